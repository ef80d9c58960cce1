"""The statement import's fast paths give what the plain ones give.

The import of a large statement reads amounts, fingerprints and invoice ids in ways
chosen for speed; these tests hold each to the plain way it replaces, and the
fingerprints to the values earlier versions of kluis stored.
"""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from kluis.billing.camt import StatementHeader, _cents, read_statement
from kluis.billing.statements import _uuid_from_hex, entry_fingerprint

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
