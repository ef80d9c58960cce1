"""When the retention clock of a question starts: the moment it was closed.

The rights app's sweep asks each trigger's resolvers; this one answers for the
questions of the contact form, whose id is their vault subject (contact_request,
trigger request_closed).
"""

from __future__ import annotations

import datetime as dt
import uuid

from kluis.web.models import Question


def questions_closed(subjects: list[uuid.UUID]) -> dict[uuid.UUID, dt.datetime]:
    return {
        pk: closed_at
        for pk, closed_at in Question.objects.filter(
            pk__in=subjects, closed_at__isnull=False
        ).values_list("pk", "closed_at")
        if closed_at is not None
    }


def questions_by_address(emails: list[str]) -> list[uuid.UUID]:
    """Questions asked from one of these addresses, found through the blind index."""
    from kluis.vault.fields import BlindIndexField

    index = Question._meta.get_field("email_index")
    assert isinstance(index, BlindIndexField)
    digests = [index.lookup_value(e) for e in emails]
    return list(Question.objects.filter(email_index__in=digests).values_list("pk", flat=True))
