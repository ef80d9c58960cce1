"""Builders for the access-control harness (kluis/testing.py ROUTES): objects of Alice."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from kluis.accounts.models import Customer
from kluis.billing import services
from kluis.billing.models import (
    BankStatement,
    CollectionHandover,
    Invoice,
    Payment,
    Refund,
    Reminder,
)
from kluis.billing.rates import vat_rates_load
from kluis.testing import Personas, make_customer, make_staff


def invoice_kwargs(p: Personas) -> dict[str, Any]:
    from kluis.shop.testing import make_order

    vat_rates_load()
    return {"invoice_id": services.invoice_issue(order=make_order(p.customer_a), issued_by=None).pk}


def pay_link_kwargs(p: Personas) -> dict[str, Any]:
    from kluis.billing.online import pay_token

    invoice = Invoice.objects.get(pk=invoice_kwargs(p)["invoice_id"])
    return {"token": pay_token(invoice)}


def proposed_payment_kwargs(p: Personas) -> dict[str, Any]:
    from kluis.shop.testing import make_order

    vat_rates_load()
    invoice = services.invoice_issue(order=make_order(p.customer_a), issued_by=None)
    statement = BankStatement.objects.create(
        version="02", message_id="T", statement_id="T", sha256="0" * 64
    )
    payment = Payment(
        statement=statement,
        entry_reference=f"P-{invoice.number}",
        booking_date=invoice.issue_date,
        amount_cents=invoice.total_cents,
        match=Payment.Match.PROPOSED,
        proposed_invoice=invoice,
        holder="Alice de Vries",
    )
    payment.subject = payment.pk
    payment.save(force_insert=True)
    return {"payment_id": payment.pk}


def unmatched_payment_kwargs(p: Personas) -> dict[str, Any]:
    statement = BankStatement.objects.create(
        version="02", message_id="U", statement_id="U", sha256="0" * 64
    )
    payment = Payment(
        statement=statement,
        entry_reference="U-1",
        booking_date=dt.date(2026, 11, 2),
        amount_cents=1234,
        match=Payment.Match.NONE,
        holder="Onbekende Betaler",
    )
    payment.subject = payment.pk
    payment.save(force_insert=True)
    return {"payment_id": payment.pk}


def refund_kwargs(p: Personas, customer: Customer | None = None) -> dict[str, Any]:
    from kluis.shop.testing import make_order

    customer = customer or p.customer_a
    vat_rates_load()
    invoice = services.invoice_issue(order=make_order(customer), issued_by=None)
    statement = BankStatement.objects.create(
        version="02", message_id="T", statement_id="T", sha256="0" * 64
    )
    payment = Payment(
        statement=statement,
        entry_reference=f"T-{invoice.number}",
        subject=customer.id,
        booking_date=invoice.issue_date,
        amount_cents=invoice.total_cents + 500,
        match=Payment.Match.REFERENCE,
        invoice=invoice,
        iban="NL02ABNA0123456789",
        holder="Alice de Vries",
    )
    payment.save(force_insert=True)
    refund = Refund.objects.create(
        invoice=invoice,
        payment=payment,
        amount_cents=500,
        proposed_by=make_staff(roles=["finance"]),
    )
    return {"refund_id": refund.pk}


def refund_export_kwargs(p: Personas) -> dict[str, Any]:
    """A payment file made of an approved refund, by a second finance user. The refund is
    a customer's of its own: a walk over every route may have left Alice's processing
    restricted, and then no refund of hers is approved (billing.services.refund_decide)."""
    own = make_customer(name="Rita Refund", email=f"rita.{uuid.uuid4().hex[:8]}@example.nl")
    assert own.customer is not None
    refund = Refund.objects.get(pk=refund_kwargs(p, own.customer)["refund_id"])
    services.refund_decide(refund=refund, by=p.staff["finance"], approve=True)
    export, _xml = services.refunds_export(by=p.staff["finance"])
    return {"export_id": export.pk}


# --- reminders and collections --------------------------------------------------------


def invoice_through_reminders(customer: Customer, *, days_ago: int = 120) -> Invoice:
    """An invoice of `customer` issued `days_ago` days ago, with the daily dunning job
    run for every day since: for a consumer the reminders and statutory letter went
    out and, well after the term, the invoice is eligible for collections today."""
    import datetime as dt

    from django.utils import timezone

    from kluis.billing.dunning import dunning_run
    from kluis.shop.testing import make_order

    vat_rates_load()
    today = timezone.localdate()
    invoice = services.invoice_issue(
        order=make_order(customer),
        issued_by=None,
        issue_date=today - dt.timedelta(days=days_ago),
    )
    day = invoice.due_date
    while day <= today:
        dunning_run(today=day)
        day += dt.timedelta(days=1)
    return invoice


def _handover(p: Personas, *, approve: bool) -> CollectionHandover:
    from kluis.billing.dunning import collections_decide, collections_propose

    invoice = invoice_through_reminders(p.customer_a)
    handover = collections_propose(invoice=invoice, by=make_staff(roles=["finance"]))
    if approve:
        handover = collections_decide(
            handover=handover, by=make_staff(roles=["finance"]), approve=True
        )
    return handover


def eligible_invoice_kwargs(p: Personas) -> dict[str, Any]:
    return {"invoice_id": invoice_through_reminders(p.customer_a).pk}


def proposed_handover_kwargs(p: Personas) -> dict[str, Any]:
    return {"handover_id": _handover(p, approve=False).pk}


def approved_handover_kwargs(p: Personas) -> dict[str, Any]:
    return {"handover_id": _handover(p, approve=True).pk}


def paid_handover_kwargs(p: Personas) -> dict[str, Any]:
    from django.utils import timezone

    from kluis.billing.settlement import invoice_paid

    handover = _handover(p, approve=True)
    invoice = handover.invoice
    Invoice.objects.filter(pk=invoice.pk).update(
        paid_cents=invoice.total_cents, paid_at=timezone.now()
    )
    invoice.refresh_from_db()
    invoice_paid(invoice)
    return {"handover_id": handover.pk}


def statutory_letter_kwargs(p: Personas) -> dict[str, Any]:
    invoice = invoice_through_reminders(p.customer_a)
    return {"reminder_id": Reminder.objects.get(invoice=invoice, stage="statutory_letter").pk}
