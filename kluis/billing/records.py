"""Billing's rows of a person for their copy (kluis.rights.records): invoices and
credit notes, payments, reminders with the collection costs they announced, refunds
and hand-overs to the debt collector.

Runs inside the copy's language; every text is readable, never a code.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone
from django.utils.translation import gettext as _

from kluis.billing.models import CollectionHandover, Invoice, Payment, Refund, Reminder
from kluis.formats import euro, long_date
from kluis.rights.records import Found, Record


def _day(value: object) -> str:
    return long_date(value) if isinstance(value, dt.date) else ""


def _invoice_state(invoice: Invoice) -> str:
    if invoice.kind == Invoice.Kind.CREDIT_NOTE:
        return _("creditnota")
    if invoice.credited_at is not None:
        return _("vervallen door een creditnota")
    if invoice.is_paid:
        return _("betaald op %(date)s") % {"date": _day(invoice.paid_at)}
    return _("open")


def billing_records(subject: uuid.UUID) -> Found:
    found = Found()
    invoices = list(Invoice.objects.filter(customer_id=subject).order_by("issue_date", "number"))
    for invoice in invoices:
        found.records.append(
            Record(
                kind=str(invoice.get_kind_display()),
                reference=invoice.number,
                on=invoice.issue_date,
                facts=[
                    (_("bedrag"), euro(invoice.total_cents)),
                    (_("waarvan btw"), euro(invoice.vat_cents)),
                    (_("btw"), str(invoice.get_vat_scheme_display())),
                    (_("betalen vóór"), _day(invoice.due_date)),
                    *(
                        [(_("gecrediteerd"), euro(invoice.credited_cents))]
                        if invoice.credited_cents
                        else []
                    ),
                    (_("betaald"), euro(invoice.paid_cents)),
                    (_("stand"), _invoice_state(invoice)),
                ],
                row=invoice,
            )
        )
    for payment in Payment.objects.filter(subject=subject).select_related("invoice"):
        found.records.append(
            Record(
                kind=_("betaling"),
                reference=payment.invoice.number if payment.invoice else "",
                on=payment.booking_date,
                facts=[
                    (_("bedrag"), euro(payment.amount_cents)),
                    (_("gekoppeld"), str(payment.get_match_display())),
                ],
                row=payment,
            )
        )
    for reminder in Reminder.objects.filter(invoice__customer_id=subject).select_related("invoice"):
        facts = [
            (_("openstaand bedrag"), euro(reminder.open_cents)),
            (_("betalen vóór"), _day(reminder.pay_by)),
        ]
        if reminder.costs_cents:
            facts.append((_("incassokosten"), euro(reminder.costs_cents)))
        found.records.append(
            Record(
                kind=reminder.label,
                reference=reminder.invoice.number,
                on=reminder.sent_on,
                facts=facts,
            )
        )
    for refund in Refund.objects.filter(invoice__customer_id=subject).select_related("invoice"):
        found.records.append(
            Record(
                kind=_("terugbetaling"),
                reference=refund.invoice.number,
                on=timezone.localdate(refund.created_at),
                facts=[
                    (_("bedrag"), euro(refund.amount_cents)),
                    (_("stand"), str(refund.get_status_display())),
                ],
            )
        )
    for handover in CollectionHandover.objects.filter(invoice__customer_id=subject).select_related(
        "invoice"
    ):
        found.records.append(
            Record(
                kind=_("overdracht aan het incassobureau"),
                reference=handover.invoice.number,
                on=timezone.localdate(handover.created_at),
                facts=[
                    (_("openstaand bedrag"), euro(handover.open_cents)),
                    (_("incassokosten"), euro(handover.costs_cents)),
                    (_("stand"), str(handover.get_status_display())),
                ],
            )
        )
    return found
