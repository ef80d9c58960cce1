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
