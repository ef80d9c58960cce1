"""Builders for the access-control harness (kluis/testing.py ROUTES): objects of Alice."""

from __future__ import annotations

from typing import Any

from kluis.billing import services
from kluis.billing.models import BankStatement, Payment, Refund
from kluis.billing.rates import vat_rates_load
from kluis.testing import Personas, make_staff


def invoice_kwargs(p: Personas) -> dict[str, Any]:
    from kluis.shop.testing import make_order

    vat_rates_load()
    return {"invoice_id": services.invoice_issue(order=make_order(p.customer_a), issued_by=None).pk}


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


def refund_kwargs(p: Personas) -> dict[str, Any]:
    from kluis.shop.testing import make_order

    vat_rates_load()
    invoice = services.invoice_issue(order=make_order(p.customer_a), issued_by=None)
    statement = BankStatement.objects.create(
        version="02", message_id="T", statement_id="T", sha256="0" * 64
    )
    payment = Payment(
        statement=statement,
        entry_reference=f"T-{invoice.number}",
        subject=p.customer_a.id,
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
