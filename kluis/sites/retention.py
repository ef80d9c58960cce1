"""The retention of help requests: each request's own key, its clock, its period.

A help request and its thread are sealed under (customer, class, key_period): the
sweep asks `_help_request_closed` when each such key's clock started (the request's
closing) and shreds that key alone when the class's period has run out, deleting the
request, its messages and its attachments with it.
"""

from __future__ import annotations

import datetime as dt
import uuid

from kluis.policy.loader import current_policy
from kluis.policy.schema import Trigger
from kluis.rights.retention import Scope, register_scope_trigger
from kluis.sites.models import HelpRequest, new_help_key_period
from kluis.vault.models import DataKey


def help_retention_class() -> str:
    return current_policy().categories["kluis.contact_message"].retention


def _help_request_closed(scopes: list[Scope]) -> dict[Scope, dt.datetime]:
    wanted = set(scopes)
    rows = HelpRequest.objects.filter(
        customer_id__in={subject for subject, _p in scopes},
        key_period__in={period for _s, period in scopes},
        status=HelpRequest.Status.CLOSED,
        closed_at__isnull=False,
    ).values_list("customer_id", "key_period", "closed_at")
    return {(c, p): at for c, p, at in rows if (c, p) in wanted and at is not None}


def free_key_period(customer_id: uuid.UUID) -> str:
    """A key period the customer has had neither a request nor a key for: a shredded
    key is never made again, so a period once swept must not come back."""
    retention_class = help_retention_class()
    while True:
        period = new_help_key_period()
        taken = HelpRequest.objects.filter(customer_id=customer_id, key_period=period).exists()
        if (
            not taken
            and not DataKey.objects.filter(
                subject=customer_id, retention_class=retention_class, period=period
            ).exists()
        ):
            return period


register_scope_trigger(Trigger.REQUEST_CLOSED, _help_request_closed)
