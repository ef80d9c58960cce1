"""A customer's API tokens in their copy (kluis.rights.records): each token's name,
scopes, when it was made, until when it works, whether it was revoked, and its last
use. Never the token itself (only its hash is kept) nor its hash.

Runs inside the copy's language; every text is readable, never a code.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone
from django.utils.translation import gettext as _

from kluis.accounts.models import User
from kluis.api.models import ApiToken
from kluis.api.scopes import SCOPES
from kluis.formats import long_datetime
from kluis.rights.records import Found, Record


def _moment(value: dt.datetime | None) -> str:
    return long_datetime(value) if value is not None else _("nooit")


def api_records(subject: uuid.UUID) -> Found:
    found = Found()
    users = User.objects.filter(User.vault_subject_q(subject))
    tokens = ApiToken.objects.filter(user__in=users).order_by("created_at", "pk")
    for token in tokens:
        scopes = [str(SCOPES[s].label) if s in SCOPES else s for s in token.scopes]
        facts = [
            (_("naam"), token.name),
            (_("begin van het token"), f"{token.prefix}…"),
            (_("bevoegdheden"), "; ".join(scopes)),
            (_("geldig tot"), long_datetime(token.expires_at)),
            (_("laatst gebruikt"), _moment(token.last_used_at)),
        ]
        if token.revoked_at is not None:
            facts.append((_("ingetrokken"), long_datetime(token.revoked_at)))
        found.records.append(
            Record(
                kind=_("API-token"),
                reference=token.prefix,
                on=timezone.localdate(token.created_at),
                facts=facts,
            )
        )
    return found
