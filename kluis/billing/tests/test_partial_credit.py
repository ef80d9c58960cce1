"""An invoice with a partial credit note: what is left of it is payable, matched,
reminded and handed over; one credited in full is none of these."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from kluis.billing import dunning, mollie, online, selectors, services, statements
from kluis.billing.camt_write import Tx, write_statement
from kluis.billing.models import Invoice, Refund, Reminder
from kluis.billing.pdf import euro, invoice_facts
from kluis.billing.rates import vat_rates_load
from kluis.billing.services import LineInput
from kluis.billing.tests.helpers import order_for
from kluis.billing.tests.test_ideal import _awaiting, _start, provider  # noqa: F401
from kluis.policy.enforce import Actor
from kluis.shop.models import Order
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")

ISSUE = dt.date(2026, 3, 2)
DUE = dt.date(2026, 3, 16)
CREDIT_NET = 1000  # €10 excl. btw off the invoice


@pytest.fixture(autouse=True)
def _schedule(settings):
    settings.KLUIS_REMINDER_DAYS = [7, 21]
    settings.KLUIS_PAYMENT_TERM_DAYS = 14


def _euro(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def _credit_part(invoice: Invoice, on: dt.date = ISSUE) -> Invoice:
    note = services.credit_note_issue(
        invoice=invoice,
        issued_by=None,
        issue_date=on,
        lines=[LineInput("Korting op de eerste maand", -CREDIT_NET)],
    )
    invoice.refresh_from_db()
    assert invoice.credited_cents == -note.total_cents > 0
    return note


def _import(tmp_path, *txs: Tx) -> statements.ImportResult:
    return statements.statement_import(path=write_statement(tmp_path, list(txs)), imported_by=None)


def test_a_statement_paying_what_is_left_after_a_partial_credit_settles_the_invoice(
    personas, tmp_path
):
    invoice = services.invoice_issue(
        order=order_for(personas.customer_a), issued_by=None, issue_date=ISSUE
    )
    _credit_part(invoice)
    left = invoice.total_cents - invoice.credited_cents
    assert invoice.is_payable and invoice.open_cents == left and not invoice.is_paid
    # The finance overview and the PDF count what is left, not the total.
    overview = selectors.finance_overview(today=DUE)
    assert (overview.open_count, overview.open_cents) == (1, left)
    assert [item.open_cents for item in overview.open_items] == [left]
    assert selectors.finance_months(today=DUE)[-1].open_cents == left
    facts = invoice_facts(invoice, Actor.subject(invoice.customer_id))
    assert (facts.open_amount, facts.credited_amount, facts.total) == (
        euro(left),
        euro(invoice.credited_cents),
        euro(invoice.total_cents),
    )
    assert facts.payee_iban
    # Less than is left pays part and leaves the rest open; the rest settles it.
    _import(tmp_path, Tx("P1", _euro(left - 500), kenmerk=invoice.payment_reference))
    invoice.refresh_from_db()
    assert (invoice.is_paid, invoice.open_cents, invoice.paid_at) == (False, 500, None)
    _import(tmp_path, Tx("P2", "5.00", kenmerk=invoice.payment_reference))
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.is_paid and invoice.paid_at is not None and invoice.open_cents == 0
    assert not invoice.is_payable and not Refund.objects.exists()
    assert selectors.finance_overview(today=DUE).open_count == 0
    # Paid by the statement's month: only what was left of it.
    assert selectors.finance_months(today=dt.date(2026, 11, 30))[-1].paid_cents == left
    # More than is left is the difference proposed for refund, as for any invoice.
    other = services.invoice_issue(
        order=order_for(personas.customer_a), issued_by=None, issue_date=ISSUE
    )
    _credit_part(other)
    over = other.total_cents - other.credited_cents + 700
    _import(tmp_path, Tx("P3", _euro(over), kenmerk=other.payment_reference))
    other.refresh_from_db()
    assert other.is_paid
    assert [r.amount_cents for r in Refund.objects.filter(invoice=other)] == [700]


def test_ideal_after_a_partial_credit_asks_what_is_left_and_settles(
    client,
    personas,
    provider,  # noqa: F811
):
    order, invoice = _awaiting(personas)
    _credit_part(invoice, on=invoice.issue_date)
    left = invoice.total_cents - invoice.credited_cents
    # The pay link and the portal show the credit and what is left.
    log_in(client, personas.alice)
    portal = client.get(reverse("billing_portal:invoices")).content.decode()
    assert "Gecrediteerd" in portal and "Betalen met iDEAL" in portal
    client.logout()
    started = _start(client, invoice)
    assert started.amount_cents == left
    remote = provider.state.payments[started.provider_id]
    assert remote["amount"]["value"] == mollie.cents_to_value(left)
    provider.state.set_status(started.provider_id, "paid")
    invoice.refresh_from_db()
    order.refresh_from_db()
    assert invoice.is_paid and invoice.paid_cents == left
    assert order.status == Order.Status.PAID and not Refund.objects.exists()
    page = client.get(online.pay_url(invoice).removeprefix("http://testserver"))
    assert 'data-state="paid"' in page.content.decode()


def test_reminders_and_the_handover_ask_what_is_left_and_stop_once_it_is_paid(personas, tmp_path):
    invoice = services.invoice_issue(
        order=order_for(personas.customer_a), issued_by=None, issue_date=ISSUE
    )
    _credit_part(invoice)
    left = invoice.total_cents - invoice.credited_cents
    day = DUE
    while day <= DUE + dt.timedelta(days=60):
        dunning.dunning_run(today=day)
        day += dt.timedelta(days=1)
    reminders = list(invoice.reminders.order_by("sent_on"))
    assert [r.stage for r in reminders] == ["reminder_1", "reminder_2", Reminder.STATUTORY_LETTER]
    assert {r.open_cents for r in reminders} == {left}
    assert reminders[-1].costs_cents == dunning.collection_costs(left)
    handover = dunning.collections_propose(invoice=invoice, by=personas.staff["finance"], today=day)
    handover = dunning.collections_decide(
        handover=handover, by=make_staff(roles=["finance"]), approve=True
    )
    assert handover.open_cents == left
    row = dunning.handover_row(handover, personas.staff["finance"].actor())
    assert row.open_cents == left
    # Paying what is left closes every reminder and marks the hand-over paid.
    _import(tmp_path, Tx("P1", _euro(left), kenmerk=invoice.payment_reference))
    assert not invoice.reminders.filter(closed_at__isnull=True).exists()
    handover.refresh_from_db()
    assert handover.status == handover.Status.PAID_AFTER_HANDOVER


def test_a_credit_that_covers_what_is_left_settles_and_a_full_credit_makes_nothing_payable(
    client,
    personas,
    tmp_path,
    provider,  # noqa: F811
):
    # Part paid, then a credit note for the rest: settled, and no reminder follows.
    invoice = services.invoice_issue(
        order=order_for(personas.customer_a), issued_by=None, issue_date=ISSUE
    )
    dunning.dunning_run(today=DUE + dt.timedelta(days=7))
    assert invoice.reminders.count() == 1
    note = services.credit_note_issue(
        invoice=invoice, issued_by=None, lines=[LineInput("Korting", -CREDIT_NET)]
    )
    paid = invoice.total_cents + note.total_cents
    _import(tmp_path, Tx("P1", _euro(paid), kenmerk=invoice.payment_reference))
    invoice.refresh_from_db()
    assert invoice.is_paid and not invoice.reminders.filter(closed_at__isnull=True).exists()
    # Another: a partial credit note, then finance credits the rest by hand.
    rest = services.invoice_issue(
        order=order_for(personas.customer_a), issued_by=None, issue_date=ISSUE
    )
    _credit_part(rest)
    services.credit_note_issue(
        invoice=rest,
        issued_by=None,
        lines=[LineInput("De rest", -(rest.net_cents - CREDIT_NET))],
    )
    rest.refresh_from_db()
    assert rest.credited_cents == rest.total_cents
    # A full credit note on a third.
    full = services.invoice_issue(
        order=order_for(personas.customer_a), issued_by=None, issue_date=ISSUE
    )
    services.credit_note_issue(invoice=full, issued_by=None)
    full.refresh_from_db()
    for gone in (rest, full):
        assert (gone.is_payable, gone.is_paid, gone.open_cents) == (False, False, 0)
        assert not selectors.open_invoices().filter(pk=gone.pk).exists()
        with pytest.raises(services.BillingError, match="credited"):
            online.ideal_start(invoice=gone, return_url="http://testserver/")
        page = client.get(online.pay_url(gone).removeprefix("http://testserver"))
        assert 'data-state="credited"' in page.content.decode()
        assert not invoice_facts(gone, Actor.subject(gone.customer_id)).payee_iban
    dunning.dunning_run(today=DUE + dt.timedelta(days=7))
    assert not Reminder.objects.filter(invoice__in=[rest, full]).exists()
    # Money for one credited in full is proposed for refund whole, as before.
    _import(tmp_path, Tx("P2", _euro(full.total_cents), kenmerk=full.payment_reference))
    full.refresh_from_db()
    assert full.paid_cents == 0
    assert [r.amount_cents for r in Refund.objects.filter(invoice=full)] == [full.total_cents]


def test_the_migration_writes_what_earlier_credit_notes_took_off(personas):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("kluis.billing.migrations.0017_invoice_credited_cents")
    parts, full, none = (
        services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
        for _ in range(3)
    )
    notes = [
        services.credit_note_issue(
            invoice=parts, issued_by=None, lines=[LineInput("Korting", -CREDIT_NET)]
        )
        for _ in range(2)
    ]
    services.credit_note_issue(invoice=full, issued_by=None)
    # As before the column existed: nothing recorded on the invoices.
    Invoice.objects.filter(pk__in=[parts.pk, full.pk]).update(credited_cents=0)
    migration.credited_from_notes(apps, None)
    assert dict(
        Invoice.objects.filter(pk__in=[parts.pk, full.pk, none.pk]).values_list(
            "pk", "credited_cents"
        )
    ) == {
        parts.pk: -sum(n.total_cents for n in notes),
        full.pk: full.total_cents,
        none.pk: 0,
    }


@pytest.mark.parametrize(
    ("net", "parts"),
    [
        (6, (-3, -3)),  # 21 % of 3 rounds up twice: 1 + 1 > 1, refused before
        (1003, (-501, -502)),  # rounds down twice: 105 + 105 < 211, a cent left before
    ],
)
def test_credit_notes_in_parts_take_off_exactly_the_invoice(personas, net, parts):
    vat_rates_load()
    invoice = services.invoice_issue_for_lines(
        customer=personas.customer_a,
        lines=[LineInput("Maatwerk", net)],
        evidence=None,
        issued_by=None,
    )
    notes = [
        services.credit_note_issue(invoice=invoice, issued_by=None, lines=[LineInput("Deel", part)])
        for part in parts
    ]
    invoice.refresh_from_db()
    assert sum(n.total_cents for n in notes) == -invoice.total_cents
    assert sum(n.vat_cents for n in notes) == -invoice.vat_cents
    assert invoice.credited_cents == invoice.total_cents
    assert invoice.open_cents == 0 and not invoice.is_payable
    with pytest.raises(services.BillingError):
        services.credit_note_issue(invoice=invoice, issued_by=None, lines=[LineInput("Meer", -1)])
