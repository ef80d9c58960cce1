"""The statement import's fast paths give what the plain ones give.

The import of a large statement reads amounts, fingerprints and invoice ids in ways
chosen for speed; these tests hold each to the plain way it replaces, and the
fingerprints to the values earlier versions of kluis stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from kluis.billing.camt import Entry, Part, StatementHeader, _cents, read_statement
from kluis.billing.remittance import entry_fingerprint
from kluis.billing.statements import _uuid_from_hex

CORPUS = Path(__file__).parent / "corpus"


def test_the_corpus_fingerprints_are_those_earlier_versions_stored():
    """An entry without a bank reference is known again by its fingerprint: if the
    fingerprint of the same entry changed between versions, an export imported before
    an upgrade would be imported a second time after it. The digest below was taken
    with the reader and fingerprint of 2026-12-06 05:40 (before the import was made
    faster); change it only together with a migration of the stored references."""
    digest = hashlib.sha256()
    count = 0
    for path in sorted(CORPUS.glob("*.xml")):
        account = ""
        for item in read_statement(path):
            if isinstance(item, StatementHeader):
                account = item.iban
            else:
                digest.update(f"{path.name} {entry_fingerprint(account, item)}\n".encode())
                count += 1
    assert count == 19
    assert digest.hexdigest() == (
        "8b0db59f24cf92e3cdeb08ba75f194777831b52400112b70f5650457aa4a1973"
    )


@pytest.mark.parametrize(
    "text",
    [
        "107.86",
        "0.01",
        "1.00",
        "007.10",
        "12345678901.99",
        "+1.50",
        "1.5",
        "1",
        "0.005",
        "0.015",
        "1.255",
        " 1.25",
        "1.25 ",
    ],
)
def test_an_amount_is_read_to_the_cent_as_decimal_reads_it(text):
    assert _cents(text) == int((Decimal(text) * 100).to_integral_value())


def test_an_invoice_id_read_as_hex_is_the_same_uuid():
    for made in (uuid.uuid4(), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)):
        read = _uuid_from_hex(made.hex)
        assert type(read) is uuid.UUID
        assert read == made and hash(read) == hash(made) and str(read) == str(made)
        assert read.is_safe == made.is_safe
        assert {made: 1}[read] == 1


def _fingerprint_by_json(account: str, entry: Entry) -> str:
    """The fingerprint as the README defines it and kluis computed it up to
    2026-12-06: json.dumps of the content list."""
    content = [
        account,
        entry.booking_date.isoformat(),
        entry.value_date,
        entry.amount_cents,
        entry.currency,
        entry.credit,
        entry.booked,
        [
            [p.amount_cents, p.iban, p.holder, list(p.references), list(p.texts), p.end_to_end]
            for p in entry.parts
        ],
    ]
    canonical = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return "fp-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


ODD_TEXTS = [
    "",
    "gewoon",
    'aanhalings"tekens" en \\ backslash\\',
    "tab\there, regel\neinde, \r, \x00 nul, \x1f, \x7f",
    "Café Ærø — \u2018quotes\u2019 € ½ 漢字 😀 \u2028\u2029",
    "</script> & <b>",
    "  spaties eromheen  ",
]


@pytest.mark.parametrize("seed", range(40))
def test_the_fingerprint_is_the_json_one_on_odd_entries(seed):
    """entry_fingerprint writes its canonical JSON itself; on entries with quotes,
    backslashes, control characters, non-ASCII text, amounts of None, booleans both
    ways and several transactions it must give exactly what json.dumps gave, or a
    re-import would count stored entries as new."""
    rng = random.Random(seed)

    def text() -> str:
        return "".join(rng.choice(ODD_TEXTS) for _ in range(rng.randint(0, 3)))

    parts = tuple(
        Part(
            amount_cents=rng.choice([None, 0, 1, 12345, 10**12]),
            iban=rng.choice(["", "NL91ABNA0417164300", text()]),
            holder=text(),
            references=tuple(text() for _ in range(rng.randint(0, 3))),
            texts=tuple(text() for _ in range(rng.randint(0, 3))),
            end_to_end=text(),
        )
        for _ in range(rng.randint(1, 4))
    )
    entry = Entry(
        bank_reference="",
        amount_cents=rng.choice([1, 995, 123456789]),
        currency=rng.choice(["EUR", "USD", ""]),
        credit=rng.random() < 0.5,
        booked=rng.random() < 0.5,
        booking_date=dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 400)),
        value_date=rng.choice(["", "2026-12-31", "2026-12-31T23:30:00+01:00", text()]),
        parts=parts,
    )
    account = rng.choice(["NL91ABNA0417164300", text()])
    assert entry_fingerprint(account, entry) == _fingerprint_by_json(account, entry)
