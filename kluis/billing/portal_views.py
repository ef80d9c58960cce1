"""The customer's invoices in the portal: the list with what is open, and each PDF."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from kluis.accounts.decorators import customer_required
from kluis.accounts.http import current_user
from kluis.accounts.models import Customer
from kluis.billing import selectors
from kluis.billing.models import Invoice, Reminder
from kluis.billing.online import ideal_enabled
from kluis.billing.payee import payee
from kluis.billing.pdf import invoice_pdf
from kluis.policy.enforce import Actor


def _customer(request: HttpRequest) -> Customer:
    customer = current_user(request).customer
    assert customer is not None
    return customer


def _invoice(request: HttpRequest, invoice_id: uuid.UUID) -> Invoice:
    invoice = selectors.customer_invoice(_customer(request), invoice_id)
    if invoice is None:
        raise Http404
    return invoice


@never_cache
@customer_required
def invoices(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    invoices = selectors.portal_invoices(customer)
    return render(
        request,
        "billing/portal/invoices.html",
        {
            "invoices": invoices,
            "iban_tails": selectors.payment_iban_tails(invoices, customer),
            "payee": payee(),
            "ideal": ideal_enabled(),
            "reminders": Reminder.objects.filter(invoice__customer=customer)
            .select_related("invoice")
            .order_by("-sent_on", "-pk"),
        },
    )


@never_cache
@customer_required
def invoice_pdf_download(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    return invoice_pdf_response(_invoice(request, invoice_id))


def invoice_pdf_response(invoice: Invoice) -> HttpResponse:
    """The invoice as a PDF download, read by its customer (the portal and the API)."""
    response = HttpResponse(
        invoice_pdf(invoice, Actor.subject(invoice.customer_id)), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response
