"""When a key scope's retention ends, from the policy's typed rule and its trigger.

One table of triggers serves the access export, the erasure answer and the sweep:
each trigger maps a batch of subjects to the moment its clock started. Apps that own
a trigger's event add a resolver (`register_trigger`), as billing will for invoices.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable

from django.utils import timezone

from kluis.policy.schema import Policy, RetentionClass, Trigger

# subjects -> the moment the retention clock started for each (absent: not yet).
TriggerResolver = Callable[[list[uuid.UUID]], dict[uuid.UUID, dt.datetime]]

_resolvers: dict[Trigger, list[TriggerResolver]] = {}

# Key scopes with a period of their own -> the moment each one's clock started: for
# rows one subject keeps apart, each under its own key (a customer's help requests).
Scope = tuple[uuid.UUID, str]
ScopeResolver = Callable[[list[Scope]], dict[Scope, dt.datetime]]

_scope_resolvers: dict[Trigger, list[ScopeResolver]] = {}


def register_trigger(trigger: Trigger, resolver: TriggerResolver) -> TriggerResolver:
    _resolvers.setdefault(trigger, []).append(resolver)
    return resolver


def trigger_moments(
    trigger: Trigger, subjects: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dt.datetime]:
    wanted = list(subjects)
    found: dict[uuid.UUID, dt.datetime] = {}
    for resolver in _resolvers.get(trigger, []):
        for subject, moment in resolver(wanted).items():
            found[subject] = max(moment, found.get(subject, moment))
    return found


def register_scope_trigger(trigger: Trigger, resolver: ScopeResolver) -> ScopeResolver:
    _scope_resolvers.setdefault(trigger, []).append(resolver)
    return resolver


def own_period(period: str) -> bool:
    """A period that names a row's own key (neither "" nor a fiscal year)."""
    return bool(period) and not period.isdigit()


def scope_moments(trigger: Trigger, scopes: Iterable[Scope]) -> dict[Scope, dt.datetime]:
    """When each key scope's clock started: by its subject, or, for a scope with a
    period of its own, by that period alone (never by the subject's own events)."""
    wanted = list(dict.fromkeys(scopes))
    own = [scope for scope in wanted if own_period(scope[1])]
    plain = [scope for scope in wanted if not own_period(scope[1])]
    by_subject = trigger_moments(trigger, {subject for subject, _p in plain}) if plain else {}
    found = {scope: by_subject[scope[0]] for scope in plain if scope[0] in by_subject}
    for resolver in _scope_resolvers.get(trigger, []) if own else []:
        for scope, moment in resolver(own).items():
            found[scope] = max(moment, found.get(scope, moment))
    return found


def fiscal_year_end(period: str) -> dt.date | None:
    return dt.date(int(period), 12, 31) if period.isdigit() else None


def retention_until(
    rule: RetentionClass,
    *,
    period: str = "",
    created_at: dt.datetime | None = None,
    started: dt.datetime | None = None,
) -> dt.date | None:
    """The last day a key scope may be kept, or None while its trigger has not happened."""
    if rule.trigger is Trigger.FISCAL_YEAR_END:
        end = fiscal_year_end(period)
        return rule.duration.after(end) if end else None
    if rule.trigger is Trigger.COLLECTED:
        return rule.duration.after(timezone.localdate(created_at)) if created_at else None
    return rule.duration.after(timezone.localdate(started)) if started else None


def kept_until(
    policy: Policy,
    subject: uuid.UUID,
    retention_class: str,
    period: str = "",
    *,
    created_at: dt.datetime | None = None,
) -> dt.date | None:
    """The last day one key scope of a person is kept: the one answer "Mijn gegevens",
    the access export and the sweep all give. None while the trigger has not happened.

    `created_at` is the key's creation, needed for a clock that starts at collection;
    looked up when not given.
    """
    from kluis.vault.models import DataKey

    rule = policy.retention[retention_class]
    if rule.trigger is Trigger.COLLECTED and created_at is None:
        created_at = (
            DataKey.objects.filter(subject=subject, retention_class=retention_class, period=period)
            .values_list("created_at", flat=True)
            .first()
        )
    started = scope_moments(rule.trigger, [(subject, period)]).get((subject, period))
    return retention_until(rule, period=period, created_at=created_at, started=started)


# --- dated holdings -------------------------------------------------------------------
# Aggregated rows (counts per site or mailbox per day) hold no sealed value and no key:
# they expire by their own day under the retention class of the policy category they
# stand for. An app registers how to delete those dated on or before a day.

DatedPurge = Callable[[dt.date, bool], int]  # (last expired day, dry run) -> rows
_dated: list[tuple[str, str, DatedPurge]] = []


def register_dated(category: str, name: str, purge: DatedPurge) -> DatedPurge:
    if not any(n == name for _c, n, _p in _dated):
        _dated.append((category, name, purge))
    return purge


def dated_holdings(policy: Policy, retention_class: str) -> list[tuple[str, DatedPurge]]:
    return [
        (name, purge)
        for category, name, purge in _dated
        if policy.categories[category].retention == retention_class
    ]


def last_expired_day(rule: RetentionClass, today: dt.date) -> dt.date:
    """The latest day whose data is past its rule on `today` (kept through `after(day)`)."""
    day = today - dt.timedelta(
        days=rule.duration.years * 366 + rule.duration.months * 31 + rule.duration.days + 1
    )
    while rule.duration.after(day + dt.timedelta(days=1)) < today:
        day += dt.timedelta(days=1)
    return day


def legal_duty_classes(policy: Policy) -> set[str]:
    return {key for key, rule in policy.retention.items() if rule.legal_duty}


# --- the triggers kluis knows today ---------------------------------------------------


def _moments(rows: Iterable[tuple[uuid.UUID, dt.datetime | None]]) -> dict[uuid.UUID, dt.datetime]:
    return {subject: moment for subject, moment in rows if moment is not None}


def _contract_end(subjects: list[uuid.UUID]) -> dict[uuid.UUID, dt.datetime]:
    from kluis.accounts.models import Contact, Customer

    ended = _moments(
        Customer.objects.filter(pk__in=subjects).values_list("pk", "contract_ended_at")
    )
    # A contact person's data serves their organisation's contract.
    ended.update(
        _moments(
            Contact.objects.filter(pk__in=subjects).values_list("pk", "customer__contract_ended_at")
        )
    )
    return ended


def _request_closed(subjects: list[uuid.UUID]) -> dict[uuid.UUID, dt.datetime]:
    from kluis.rights.models import RightsRequest

    return _moments(
        RightsRequest.objects.filter(pk__in=subjects, closed_at__isnull=False).values_list(
            "pk", "closed_at"
        )
    )


def _verification_decided(subjects: list[uuid.UUID]) -> dict[uuid.UUID, dt.datetime]:
    from kluis.rights.models import RightsRequest

    return _moments(
        RightsRequest.objects.filter(
            pk__in=subjects, verification_decided_at__isnull=False
        ).values_list("pk", "verification_decided_at")
    )


def _account_closed(subjects: list[uuid.UUID]) -> dict[uuid.UUID, dt.datetime]:
    from kluis.rights.models import Erasure

    erased = Erasure.objects.filter(subject__in=subjects)
    return _moments(erased.values_list("subject", "erased_at"))


register_trigger(Trigger.CONTRACT_END, _contract_end)
register_trigger(Trigger.REQUEST_CLOSED, _request_closed)
register_trigger(Trigger.VERIFICATION_DECIDED, _verification_decided)
register_trigger(Trigger.ACCOUNT_CLOSED, _account_closed)
