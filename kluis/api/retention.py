"""API tokens expire by their own end through the retention sweep.

A token (personal or service) is kept while it works and for the policy's term after
it expired or was revoked, whichever came first (retention class `api_token`, trigger
`ended`), so that its owner still sees it, with its last use, in the list; then the
sweep deletes it, with its idempotency keys. A customer's tokens also leave with the
account (cascade). The rows hold no sealed value and no key: they are a dated holding.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from kluis.rights.retention import register_dated

CATEGORY = "kluis.api_token"
HASHED_CATEGORY = "kluis.api_token_secret"


def _start_of_day_after(day: dt.date) -> dt.datetime:
    return timezone.make_aware(
        dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min),
        timezone.get_current_timezone(),
    )


def purge_ended_tokens(until: dt.date, dry_run: bool) -> int:
    """Delete the tokens that ended (expired or were revoked) on or before `until`."""
    from kluis.api.models import ApiToken

    before = _start_of_day_after(until)
    rows = ApiToken.objects.filter(Q(expires_at__lt=before) | Q(revoked_at__lt=before))
    if dry_run:
        return rows.count()
    return rows.delete()[1].get(ApiToken._meta.label, 0)


register_dated(CATEGORY, "api.ApiToken", purge_ended_tokens)

# The fields that only say which row it is and whose; every other field of ApiToken
# is a column of one of the two categories above (a test holds them in step). `node`:
# the hosting node a service token reads for (no person's data).
STRUCTURE = {"id", "user", "node"}
