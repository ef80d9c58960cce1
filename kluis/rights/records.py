"""What a person is in the other apps beyond their sealed values: the whole copy.

The vault finds every sealed value of a person (`sealed_holdings`), but an invoice
number, an amount, a reminder's date or the registry a domain name went to are not
sealed: they are facts about the person all the same, and art. 15(1) and 15(3) GDPR
want them in the copy. Apps that hold such rows register a `RecordFinder` here (shop:
orders, subscriptions, acceptances; billing: invoices, payments, reminders, refunds,
hand-overs to the collector), as they register erasure blockers and address finders.

A finder runs inside the language of the copy and returns readable text only: no
status codes, no keys. It also names the actual recipients its rows imply (the
registry of a domain name, the supplier that hosts a package), so the copy names them
(CJEU C-154/21, Österreichische Post, 12-1-2023: the actual recipients, not only
their categories, unless they cannot be identified).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from kluis.vault.fields import SealedModel


@dataclass(frozen=True)
class Record:
    """One row of the person's, as the copy shows it."""

    kind: str  # "factuur", in the copy's language
    reference: str  # "F2026-000012"
    on: dt.date | None
    facts: list[tuple[str, str]] = field(default_factory=list)  # (label, value), readable
    # A row with sealed fields: the copy shows its sealed values with it.
    row: SealedModel | None = None


@dataclass(frozen=True)
class NamedRecipient:
    """An actual recipient the person's rows imply, by its own name."""

    recipient: str  # the policy's recipient key (not shown to the person)
    name: str  # "VeriSign, Inc.", "Stichting Internet Domeinregistratie Nederland (SIDN)"
    reason: str  # "registry van example.com", readable
    country: str = ""  # ISO code of where the actual recipient is, when known
    outside_eu: bool | None = None  # when known from the row (a registry's location)


@dataclass
class Found:
    records: list[Record] = field(default_factory=list)
    recipients: list[NamedRecipient] = field(default_factory=list)


RecordFinder = Callable[[uuid.UUID], Found]
_finders: list[RecordFinder] = []


def register_record_finder(finder: RecordFinder) -> RecordFinder:
    if finder not in _finders:
        _finders.append(finder)
    return finder


def records_of(subject: uuid.UUID) -> Found:
    """Every finder's rows of `subject`, in registration order (call within the language)."""
    found = Found()
    for finder in _finders:
        part = finder(subject)
        found.records += part.records
        for named in part.recipients:
            if named not in found.recipients:
                found.recipients.append(named)
    return found
