"""Reminders and collections: finance's page and files, and the customer's letter PDF."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis.accounts.decorators import customer_required, staff_required
from kluis.accounts.http import current_user
from kluis.billing import dunning, forms
from kluis.billing.dunning_pdf import handover_pdf, statutory_letter_pdf
from kluis.billing.models import CollectionHandover, Invoice, Reminder
from kluis.billing.services import BillingError
from kluis.policy.enforce import Actor
from kluis.vault.errors import KeyShredded, RevealRefused

FINANCE = ("finance",)
# What finance may download: hand-overs a second user approved (also when paid later).
HANDED_OVER = (
    CollectionHandover.Status.APPROVED,
    CollectionHandover.Status.PAID_AFTER_HANDOVER,
)

ERRORS = {
    "four_eyes": _lazy("Een overdracht keurt een andere medewerker goed dan wie haar voorstelde."),
    "not_proposed": _lazy("Over deze overdracht is al beslist."),
    "not_eligible": _lazy(
        "Deze factuur kan nog niet naar de incasso: eerst moeten alle herinneringen (en "
        "voor consumenten de veertiendagenbrief) verstuurd zijn en de termijn verstreken."
    ),
    "already_proposed": _lazy("Voor deze factuur loopt al een overdracht."),
    "paid": _lazy("Deze factuur is betaald."),
    "credited": _lazy("Deze factuur is gecrediteerd."),
    "not_an_invoice": _lazy("Dit is geen factuur."),
    "nothing_to_tell": _lazy("Hier is niets aan het incassobureau te melden."),
}


def _error(request: HttpRequest, exc: BillingError) -> None:
    messages.error(request, str(ERRORS.get(exc.code, exc.code)))


@never_cache
@staff_required(*FINANCE)
def collections(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    return render(
        request,
        "billing/backoffice/collections.html",
        {
            "today": today,
            "standings": dunning.overdue_standings(today),
            "handovers": dunning.handovers_open(),
        },
    )


@require_POST
@staff_required(*FINANCE)
def collections_propose(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=invoice_id, kind=Invoice.Kind.INVOICE)
    try:
        dunning.collections_propose(invoice=invoice, by=current_user(request))
    except BillingError as exc:
        _error(request, exc)
    else:
        messages.success(
            request,
            _("Overdracht van %(number)s voorgesteld; een tweede medewerker keurt haar goed.")
            % {"number": invoice.number},
        )
    return redirect("billing_backoffice:collections")


@require_POST
@staff_required(*FINANCE)
def collections_decide(request: HttpRequest, handover_id: int) -> HttpResponse:
    handover = get_object_or_404(CollectionHandover, pk=handover_id)
    form = forms.HandoverDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Kies overdragen of afwijzen."))
        return redirect("billing_backoffice:collections")
    approve = form.cleaned_data["approve"]
    try:
        dunning.collections_decide(
            handover=handover,
            by=current_user(request),
            approve=approve,
            language=translation.get_language() or "nl",
        )
    except BillingError as exc:
        _error(request, exc)
    else:
        number = handover.invoice.number
        messages.success(
            request,
            (
                _("%(number)s is overgedragen aan de incassopartner.")
                if approve
                else _("De overdracht van %(number)s is afgewezen.")
            )
            % {"number": number},
        )
    return redirect("billing_backoffice:collections")


@require_POST
@staff_required(*FINANCE)
def collections_told(request: HttpRequest, handover_id: int) -> HttpResponse:
    handover = get_object_or_404(CollectionHandover, pk=handover_id)
    try:
        dunning.collections_collector_told(handover=handover, by=current_user(request))
    except BillingError as exc:
        _error(request, exc)
    else:
        messages.success(
            request,
            _("Vastgelegd: de incassopartner weet dat %(number)s is betaald.")
            % {"number": handover.invoice.number},
        )
    return redirect("billing_backoffice:collections")


def _erased(request: HttpRequest) -> HttpResponse:
    """The customer was erased since the hand-over: the file can no longer be made."""
    messages.error(
        request,
        _(
            "De gegevens van deze klant zijn gewist; het overdrachtsbestand kan niet meer "
            "worden gemaakt. Wat de incassopartner al kreeg, staat in het register van "
            "verstrekkingen."
        ),
    )
    return redirect("billing_backoffice:collections")


def _handed_over(handover_id: int) -> CollectionHandover:
    return get_object_or_404(
        CollectionHandover.objects.select_related("invoice__customer"),
        pk=handover_id,
        status__in=HANDED_OVER,
    )


@never_cache
@staff_required(*FINANCE)
def collections_csv(request: HttpRequest, handover_id: int) -> HttpResponse:
    handover = _handed_over(handover_id)
    try:
        body = dunning.handover_csv(handover, current_user(request).actor())
    except (KeyShredded, RevealRefused):
        return _erased(request)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="incasso-{handover.invoice.number}.csv"'
    )
    return response


@never_cache
@staff_required(*FINANCE)
def collections_pdf(request: HttpRequest, handover_id: int) -> HttpResponse:
    handover = _handed_over(handover_id)
    try:
        body = handover_pdf(handover, current_user(request).actor())
    except (KeyShredded, RevealRefused):
        return _erased(request)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="incasso-{handover.invoice.number}.pdf"'
    )
    return response


@never_cache
@customer_required
def reminder_pdf(request: HttpRequest, reminder_id: int) -> HttpResponse:
    """The customer's own statutory letter; other reminders are mails without a PDF."""
    customer = current_user(request).customer
    reminder = (
        Reminder.objects.filter(
            pk=reminder_id, invoice__customer=customer, stage=Reminder.STATUTORY_LETTER
        )
        .select_related("invoice__customer")
        .first()
    )
    if reminder is None or customer is None:
        raise Http404
    response = HttpResponse(
        statutory_letter_pdf(reminder, Actor.subject(customer.id)),
        content_type="application/pdf",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="aanmaning-{reminder.invoice.number}.pdf"'
    )
    return response
