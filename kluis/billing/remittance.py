"""What an entry of a bank statement says, worked out without the database.

The fingerprint of an entry without a bank reference, the betalingskenmerken and
invoice numbers each transaction names, and whether it is a payout of the payment
provider. Nothing here needs Django's apps or a database, so the process that reads
a large statement (kluis.billing.camt_ahead) works it out while the importing
process writes the payments of the entries before.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring
from typing import NamedTuple

from stdnum import iso11649

from kluis.billing.camt import Entry, Part, StatementHeader
from kluis.billing.reference import check_digit, is_valid

INVOICE_NUMBER = re.compile(r"\b([A-Z]{1,10}\d{4}-\d{6})\b")
# A betalingskenmerk written in a description: 16 digits, maybe in groups of four.
KENMERK_IN_TEXT = re.compile(r"(?<!\d)(\d{4}[ .]?\d{4}[ .]?\d{4}[ .]?\d{4})(?!\d)")
# A payout of the payment service provider: Mollie transfers what it collected (the
# iDEAL payments, minus its fees) as one credit whose description carries the
# settlement's bank reference, e.g. "1182161.1506.02" (Mollie Settlements API:
# organisation, year and month, sequence). The payer's name says Mollie.
SETTLEMENT_REFERENCE = re.compile(r"(?<![\d.])\d{4,10}\.\d{4}\.\d{2}(?![\d.])")
PROVIDER_PAYERS = ("mollie",)


# A string as JSON writes it with ensure_ascii=False (json's own C function, the one
# its encoder uses for that): quotes, backslashes and control characters escaped.
_quote = encode_basestring


def entry_fingerprint(account: str, entry: Entry) -> str:
    """The reference of an entry that has no bank reference: its content, hashed.

    SHA-256 over the canonical JSON of: the account's IBAN; booking date; value date
    as given; amount in cents; currency; credit or debit; booked or not; and for each
    transaction in order its amount, payer IBAN, payer name, structured references,
    remittance texts and EndToEndId. The statement's own id, its creation time and
    the entry's position are left out on purpose: they differ between a day's export
    and a later export covering the same day. `fp-` and the first 40 hex digits.

    The JSON is the text json.dumps(content, ensure_ascii=False, separators=(",",
    ":")) gives for that list, written here directly (the same quoting function, ints
    and booleans as json writes them): the encoder's generic walk over the nested
    lists was most of the cost, and stored fingerprints must not change (a test
    compares the two on odd entries).
    """
    q = _quote
    parts = ",".join(
        [
            f"[{'null' if p.amount_cents is None else int.__repr__(p.amount_cents)},"
            f"{q(p.iban)},{q(p.holder)},[{','.join(map(q, p.references))}],"
            f"[{','.join(map(q, p.texts))}],{q(p.end_to_end)}]"
            for p in entry.parts
        ]
    )
    canonical = (
        f"[{q(account)},{q(entry.booking_date.isoformat())},{q(entry.value_date)},"
        f"{int.__repr__(entry.amount_cents)},{q(entry.currency)},"
        f"{'true' if entry.credit else 'false'},{'true' if entry.booked else 'false'},"
        f"[{parts}]]"
    )
    return "fp-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def kenmerk_of(reference: str) -> str:
    """The betalingskenmerk a structured reference carries, or ""."""
    if len(reference) == 16 and reference.isascii() and reference.isdigit():
        # As most banks pass it on: 16 digits, nothing to take out or unwrap.
        return reference if check_digit(reference[1:]) == ord(reference[0]) - 48 else ""
    compact = "".join(reference.split())
    if compact[:2].upper() == "RF" and iso11649.is_valid(compact):
        compact = compact[4:]  # an RF creditor reference wrapping the kenmerk
    return compact if is_valid(compact) else ""


def named_in(part: Part) -> tuple[list[str], list[str]]:
    """The betalingskenmerken (right check digit) and the invoice numbers the payer
    gave, in the order given: structured references first, then the texts."""
    kenmerken: list[str] = []
    loose: list[str] = []
    for reference in part.references:
        kenmerk = kenmerk_of(reference)
        if kenmerk:
            kenmerken.append(kenmerk)
        else:
            loose.append(reference)  # a bad check digit or another scheme: just text
    if not part.texts and not loose:
        return kenmerken, []
    text = " ".join([*part.texts, *loose])
    for written in KENMERK_IN_TEXT.findall(text):
        kenmerk = re.sub(r"[ .]", "", written)
        if is_valid(kenmerk) and kenmerk not in kenmerken:
            kenmerken.append(kenmerk)
    return kenmerken, INVOICE_NUMBER.findall(text.upper())


def settlement_reference(part: Part) -> str:
    """The provider's settlement reference when this transaction is a payout of the
    payment service provider, else "".

    Such a credit is not a customer's payment: each payment in it was recorded when
    the provider said it was paid. It is kept as a payment that pays nothing
    (`Match.SETTLEMENT`), never matched, proposed or refunded.
    """
    holder = part.holder.casefold()
    if not any(name in holder for name in PROVIDER_PAYERS):
        return ""
    found = SETTLEMENT_REFERENCE.search(" ".join([*part.texts, *part.references]))
    return found.group(0) if found else ""


# What a transaction names: betalingskenmerken and invoice numbers.
Named = tuple[list[str], list[str]]
_NOTHING: Named = ([], [])


class Prepared(NamedTuple):
    """An entry with what its import needs of it that the database does not know."""

    entry: Entry
    fingerprint: str  # entry_fingerprint, for an entry without a bank reference; else ""
    named: tuple[Named, ...]  # per part: named_in(part), or nothing for a payout
    payouts: tuple[str, ...]  # per part: settlement_reference(part)


def prepare(account: str, entry: Entry) -> Prepared:
    payouts = tuple(settlement_reference(part) for part in entry.parts)
    return Prepared(
        entry=entry,
        fingerprint="" if entry.bank_reference else entry_fingerprint(account, entry),
        named=tuple(
            _NOTHING if payout else named_in(part)
            for part, payout in zip(entry.parts, payouts, strict=True)
        ),
        payouts=payouts,
    )


def prepared(items: Iterable[StatementHeader | Entry]) -> Iterator[StatementHeader | Prepared]:
    """`read_statement`'s headers, and its entries prepared for their statement's account."""
    account = ""
    for item in items:
        if isinstance(item, StatementHeader):
            account = item.iban
            yield item
        else:
            yield prepare(account, item)
