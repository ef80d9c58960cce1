"""An order is invoiced when it awaits payment, credited when cancelled unpaid, and
moved on to paid when a bank statement pays its invoice."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from kluis.audit.models import AuditEntry
from kluis.billing import emails
from kluis.billing.camt_write import Tx, write_statement
from kluis.billing.models import Invoice, Refund, VatRate
from kluis.billing.statements import statement_import
from kluis.billing.tests.helpers import order_for
from kluis.formats import long_date
from kluis.mail.delivery import render_mail
from kluis.mail.models import OutboxMessage
from kluis.shop import services as shop_services
from kluis.shop.models import Order
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _await_payment(personas, **kwargs) -> tuple[Order, Invoice]:
    order = order_for(personas.customer_a, **kwargs)
    order = shop_services.order_move(
        order=order, to=Order.Status.AWAITING_PAYMENT, by=personas.staff["orders"]
    )
    return order, Invoice.objects.get(order=order)


def _amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def test_awaiting_payment_issues_exactly_one_invoice_and_one_mail_that_says_both(personas):
    order, invoice = _await_payment(personas)
    assert Invoice.objects.count() == 1
    assert invoice.kind == Invoice.Kind.INVOICE and invoice.issued_by == personas.staff["orders"]
    assert [line.description for line in invoice.lines.all()] == [
        f"{line.description}, eerste periode (1 {'jaar' if line.period == 'year' else 'maand'})"
        " vanaf de oplevering"
        for line in order.lines.all()
    ]
    assert invoice.net_cents == order.total_cents
    assert invoice.vat_scheme == Invoice.VatScheme.DUTCH and invoice.vat_rate_bp == 2100
    message = OutboxMessage.objects.get()
    assert message.template == emails.INVOICE
    mail = render_mail(
        template=emails.INVOICE,
        language="nl",
        context=emails._invoice_context(message.context, emails.MAILER),
    )
    assert f"Je bestelling {order.number} wacht nu op betaling." in mail.text
    assert invoice.payment_reference in mail.text
    english = render_mail(
        template=emails.INVOICE,
        language="en",
        context=emails._invoice_context(message.context, emails.MAILER),
    )
    assert f"Your order {order.number} now awaits payment." in english.html


def test_an_order_that_cannot_be_invoiced_does_not_move_and_staff_see_why(client, personas):
    order = order_for(personas.customer_a)
    VatRate.objects.filter(country="NL").delete()
    with pytest.raises(shop_services.ShopError) as refused:
        shop_services.order_move(
            order=order, to=Order.Status.AWAITING_PAYMENT, by=personas.staff["orders"]
        )
    assert refused.value.code == "not_invoiced"
    order.refresh_from_db()
    assert order.status == Order.Status.RECEIVED
    assert not Invoice.objects.exists() and not OutboxMessage.objects.exists()
    assert not AuditEntry.objects.filter(action="shop.order_moved").exists()
    log_in(client, personas.staff["orders"])
    response = client.post(
        reverse("shop_backoffice:order-move", kwargs={"order_id": order.pk}),
        {"status": "awaiting_payment"},
    )
    assert response.status_code == 400
    assert "De factuur van deze bestelling kon niet worden gemaakt" in response.content.decode()


def test_paying_the_invoice_by_bank_statement_moves_the_order_to_paid_once(tmp_path, personas):
    order, invoice = _await_payment(personas)
    tx = Tx(reference="E-1", amount=_amount(invoice.total_cents), kenmerk=invoice.payment_reference)
    statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert OutboxMessage.objects.filter(dedupe_key=f"order:{order.pk}:status:paid").count() == 1
    moved = AuditEntry.objects.filter(action="shop.order_moved").last()
    assert moved is not None and moved.actor == "system:shop.payments"
    assert json.loads(moved.payload)["data"]["invoice"] == invoice.number
    # The same statement again adds no payment, no move and no mail.
    mails = OutboxMessage.objects.count()
    statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    assert OutboxMessage.objects.count() == mails
    assert AuditEntry.objects.filter(action="shop.order_moved").count() == 2


def test_a_partial_payment_leaves_the_order_awaiting_payment(tmp_path, personas):
    order, invoice = _await_payment(personas)
    tx = Tx(reference="E-2", amount="1.00", kenmerk=invoice.payment_reference)
    statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


def test_a_paid_invoice_of_an_order_no_longer_awaiting_payment_moves_nothing(tmp_path, personas):
    order, invoice = _await_payment(personas)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
    tx = Tx(reference="E-3", amount=_amount(invoice.total_cents), kenmerk=invoice.payment_reference)
    statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_cancelling_an_unpaid_order_credits_its_invoice(personas):
    order, invoice = _await_payment(personas)
    shop_services.order_move(order=order, to=Order.Status.CANCELLED, by=personas.staff["orders"])
    credit = Invoice.objects.get(corrects=invoice)
    assert credit.kind == Invoice.Kind.CREDIT_NOTE and credit.total_cents == -invoice.total_cents
    assert OutboxMessage.objects.filter(dedupe_key=f"invoice:{credit.pk}").count() == 1
    assert (
        OutboxMessage.objects.filter(dedupe_key=f"order:{order.pk}:status:cancelled").count() == 1
    )
    assert not Refund.objects.exists()


def test_cancelling_a_partly_paid_order_credits_it_and_proposes_the_refund(tmp_path, personas):
    order, invoice = _await_payment(personas)
    tx = Tx(reference="E-4", amount="10.00", kenmerk=invoice.payment_reference)
    statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    shop_services.order_move(order=order, to=Order.Status.CANCELLED, by=personas.staff["orders"])
    assert Invoice.objects.filter(corrects=invoice).exists()
    refund = Refund.objects.get()
    assert refund.amount_cents == 1000 and refund.invoice == invoice
    assert refund.status == Refund.Status.PROPOSED and refund.proposed_by is None


def test_cancelling_a_paid_order_leaves_its_invoice_to_finance(tmp_path, personas):
    order, invoice = _await_payment(personas)
    tx = Tx(reference="E-5", amount=_amount(invoice.total_cents), kenmerk=invoice.payment_reference)
    statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    shop_services.order_move(order=order, to=Order.Status.CANCELLED, by=personas.staff["orders"])
    assert not Invoice.objects.filter(corrects=invoice).exists()


def test_a_delivered_order_names_the_period_its_invoice_paid_for(client, tmp_path, personas):
    from kluis.billing.pdf import invoice_facts
    from kluis.policy.enforce import Actor
    from kluis.shop.models import Subscription

    order, invoice = _await_payment(personas, kind="organisation")
    facts = invoice_facts(invoice, Actor.subject(invoice.customer_id))
    # Invoiced before delivery: the first period starts on a day not known yet.
    assert facts.supply_until == "" and "Periode" not in facts.lines[0][0]
    assert invoice.service_period is None
    tx = Tx(reference="E-1", amount=_amount(invoice.total_cents), kenmerk=invoice.payment_reference)
    statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    for status in (Order.Status.IN_PROGRESS, Order.Status.DELIVERED):
        order = shop_services.order_move(order=order, to=status, by=personas.staff["orders"])
    subscriptions = list(Subscription.objects.filter(line__order=order).order_by("line__position"))
    lines = list(invoice.lines.all())
    assert len(lines) == len(subscriptions) > 1
    periods = [(s.started_on, s.period_end) for s in subscriptions]
    assert [(line.period_start, line.period_end) for line in lines] == periods
    invoice = Invoice.objects.get(pk=invoice.pk)
    first, last = min(p[0] for p in periods), max(p[1] for p in periods)
    assert invoice.service_period == (first, last)
    facts = invoice_facts(invoice, Actor.subject(invoice.customer_id))
    assert (facts.supply_date, facts.supply_until) == (
        long_date(first, "nl"),
        long_date(last, "nl"),
    )
    for (text, *_rest), (start, end) in zip(facts.lines, periods, strict=True):
        assert text.endswith(f"\nPeriode: {long_date(start, 'nl')} t/m {long_date(end, 'nl')}")
    log_in(client, personas.alice)
    page = client.get(reverse("billing_portal:invoices")).content.decode()
    assert f"Periode {long_date(first, 'nl')} t/m {long_date(last, 'nl')}" in page


def test_the_migration_fills_the_first_period_of_orders_delivered_before_periods(
    tmp_path, personas
):
    import datetime as dt
    import importlib

    from django.apps import apps

    from kluis.billing.models import InvoiceLine
    from kluis.shop.models import Subscription, SubscriptionRenewal

    migration = importlib.import_module(
        "kluis.billing.migrations.0023_first_periods_of_delivered_orders"
    )
    delivered = []
    for reference in ("E-1", "E-2"):
        order, invoice = _await_payment(personas, kind="organisation")
        tx = Tx(reference, amount=_amount(invoice.total_cents), kenmerk=invoice.payment_reference)
        statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
        for status in (Order.Status.IN_PROGRESS, Order.Status.DELIVERED):
            order = shop_services.order_move(order=order, to=status, by=personas.staff["orders"])
        delivered.append((order, invoice))
    waiting, not_delivered = _await_payment(personas)
    # As before lines had periods: none written on delivery.
    InvoiceLine.objects.update(period_start=None, period_end=None)
    subscriptions = list(
        Subscription.objects.filter(line__order=delivered[0][0]).order_by("line__position")
    )
    first = [(s.started_on, s.period_end) for s in subscriptions]
    # The second order's subscriptions have moved on: one renewed (its renewal invoiced),
    # one whose period moved without a renewal on record (its end is computed).
    renewed, moved = Subscription.objects.filter(line__order=delivered[1][0]).order_by(
        "line__position"
    )[:2]
    expected_second = {
        renewed.line.position: (renewed.started_on, renewed.period_end),
        moved.line.position: (moved.started_on, moved.period_end),
    }
    for subscription in (renewed, moved):
        start, end = subscription.next_period()
        if subscription is renewed:
            SubscriptionRenewal.objects.create(
                subscription=subscription,
                period_start=start,
                period_end=end,
                price_cents=subscription.line.price_cents,
            )
        Subscription.objects.filter(pk=subscription.pk).update(period_start=start, period_end=end)

    migration.first_periods_fill(apps, None)

    lines = list(delivered[0][1].lines.order_by("position"))
    assert [(line.period_start, line.period_end) for line in lines] == first
    second = {
        line.position: (line.period_start, line.period_end) for line in delivered[1][1].lines.all()
    }
    for position, period in expected_second.items():
        assert second[position] == period
    assert all(isinstance(p[0], dt.date) for p in second.values())
    # An order not delivered gets nothing; a second run changes nothing.
    assert not not_delivered.lines.filter(period_start__isnull=False).exists()
    migration.first_periods_fill(apps, None)
    assert [
        (line.period_start, line.period_end) for line in delivered[0][1].lines.order_by("position")
    ] == first
    assert waiting.status != Order.Status.DELIVERED
