"""What one batch of a statement import shares between its payments, and what not.

A batch makes its payment ids from one read of the random source, looks up each key
scope once for all its rows and runs with a larger SQLite page cache; none of that
may mix up two payers' keys, repeat an id or outlive the import.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connection

from kluis.billing import services, statements
from kluis.billing.camt_write import Tx, write_statement
from kluis.billing.models import Invoice, Payment
from kluis.billing.tests.helpers import order_for
from kluis.vault import keys
from kluis.vault.errors import KeyShredded
from kluis.vault.fields import open_for_row

pytestmark = pytest.mark.django_db(databases="__all__")


def _euro(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def test_new_payment_ids_are_random_uuids_and_never_repeat():
    made = statements._random_ids(5000)
    assert len(made) == len({m.int for m in made}) == 5000
    for value in made[:200]:
        again = uuid.UUID(str(value))
        assert again == value and hash(again) == hash(value)
        assert (value.version, value.variant) == (4, uuid.RFC_4122)
    # The 122 random bits are not all alike: every one of them is set in some id and
    # clear in another.
    fixed = (0xF000 << 64) | (0xC000 << 48)
    ones = zeros = 0
    for value in made:
        ones |= value.int
        zeros |= ~value.int & (2**128 - 1)
    assert ones & ~fixed == zeros & ~fixed == (2**128 - 1) & ~fixed


def test_one_batch_keeps_each_payers_key_apart(tmp_path, personas, monkeypatch):
    """Two customers, each paying twice in one batch, and a payer nobody knows (a data
    subject of its own): each payment is sealed under its own subject's key, those of
    one customer under one key, and a key scope is looked up once per batch."""
    mine = [
        services.invoice_issue(order=order_for(customer), issued_by=None)
        for customer in (personas.customer_a, personas.customer_a)
    ]
    theirs = [
        services.invoice_issue(order=order_for(customer), issued_by=None)
        for customer in (personas.customer_b, personas.customer_b)
    ]
    txs = [
        Tx(f"E{n}", _euro(i.total_cents), kenmerk=i.payment_reference, iban=iban)
        for n, (i, iban) in enumerate(
            [
                (mine[0], "NL02ABNA0123456789"),
                (theirs[0], "NL91ABNA0417164300"),
                (mine[1], "NL02ABNA0123456789"),
                (theirs[1], "NL91ABNA0417164300"),
            ],
            1,
        )
    ]
    txs.append(Tx("E5", "12.34", name="Stichting Onbekend", text="gift"))
    looked_up: list[list[keys.KeyScope]] = []
    placed: list[tuple[list[keys.KeyScope], list[int]]] = []
    prefetch, scopes_of = keys.prefetch_or_create, statements._Rows._scopes

    def counting(scopes):
        looked_up.append(list(scopes))
        return prefetch(looked_up[-1])

    def spying(rows):
        placed.append(scopes_of(rows))
        return placed[-1]

    monkeypatch.setattr(keys, "prefetch_or_create", counting)
    monkeypatch.setattr(statements._Rows, "_scopes", spying)
    result = statements.statement_import(path=write_statement(tmp_path, txs), imported_by=None)
    assert result.new == 5
    # One batch: three scopes (two customers and the unknown payer), each once, and
    # each row pointing at its payer's.
    assert len(looked_up) == 1 and len(looked_up[0]) == len(set(looked_up[0])) == 3
    ((scopes, of_row),) = placed
    assert scopes == looked_up[0]
    a, b = personas.customer_a.pk, personas.customer_b.pk
    assert [scopes[place].subject for place in of_row[:4]] == [a, b, a, b]
    assert of_row[0] == of_row[2] != of_row[1] == of_row[3] != of_row[4]
    by_ref = {p.entry_reference: p for p in Payment.objects.all()}
    assert [by_ref[r].subject for r in ("E1", "E2", "E3", "E4")] == [a, b, a, b]
    assert by_ref["E5"].subject == by_ref["E5"].pk
    for ref, iban in (("E1", "NL02ABNA0123456789"), ("E2", "NL91ABNA0417164300")):
        payment = by_ref[ref]
        assert payment.iban.scope.subject == payment.subject
        assert payment.iban.reveal(purpose="payment_matching", actor=services.BILLING) == iban
    # Sealed under the subject's key: under the other customer's, the token is refused.
    with connection.cursor() as cursor:
        cursor.execute("SELECT iban FROM billing_payment WHERE entry_reference = %s", ["E1"])
        (token,) = cursor.fetchone()
    own = by_ref["E1"].iban.scope
    label, pk = Payment._meta.label_lower, by_ref["E1"].pk
    assert open_for_row(label, pk, "iban", own, bytes(token)) == "NL02ABNA0123456789"
    with pytest.raises(KeyShredded):
        open_for_row(
            label, pk, "iban", keys.KeyScope(b, own.retention_class, own.period), bytes(token)
        )
    assert all(i.is_paid for i in Invoice.objects.filter(pk__in=[x.pk for x in mine + theirs]))


def test_the_import_runs_with_its_page_cache_and_gives_it_back(tmp_path, personas):
    if connection.vendor != "sqlite":
        pytest.skip("a setting of SQLite connections")
    from kluis.billing.settlement import register_paid_handler, unregister_paid_handler

    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (before,) = cursor.fetchone()
    during: list[int] = []

    def handler(paid: Invoice) -> None:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            during.append(cursor.fetchone()[0])

    register_paid_handler(handler)
    try:
        statements.statement_import(
            path=write_statement(
                tmp_path, [Tx("E1", _euro(invoice.total_cents), kenmerk=invoice.payment_reference)]
            ),
            imported_by=None,
        )
    finally:
        unregister_paid_handler(handler)
    assert during == [-statements.IMPORT_PAGE_CACHE_KIB]
    assert before != during[0]
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        assert cursor.fetchone()[0] == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's page fill")
def test_paying_a_pages_invoices_in_one_import_leaves_their_indexes_alone(tmp_path, personas):
    """An import pays invoices issued together, in one transaction: each invoice's
    update (paid_cents, paid_at) must find room in its own page (a HOT update), or
    PostgreSQL writes all the invoice's index entries again (migration 0031)."""
    invoices = [
        services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
        for _ in range(40)
    ]
    path = write_statement(
        tmp_path,
        [
            Tx(f"H{n}", _euro(i.total_cents), kenmerk=i.payment_reference)
            for n, i in enumerate(invoices)
        ],
    )

    def updates() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                "WHERE relname = 'billing_invoice'"
            )
            row = cursor.fetchone()
        return (row[0], row[1]) if row else (0, 0)

    before = updates()
    result = statements.statement_import(path=path, imported_by=None)
    after = updates()
    assert result.new == 40
    assert Invoice.objects.filter(pk__in=[i.pk for i in invoices], paid_at=None).count() == 0
    updated, hot = after[0] - before[0], after[1] - before[1]
    assert updated >= 40
    # All but where a page's room went to the invoice's own writes when it was issued
    # (37 of 40 here; with 70 % filled, as 0016 left it, 20 of 40).
    assert hot >= 0.9 * updated, (hot, updated)
