"""The back office of billing (finance role): the overview, bank statements and refunds."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from django.contrib import messages
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis.accounts.decorators import staff_required
from kluis.accounts.http import current_user
from kluis.billing import forms, selectors, services
from kluis.billing.camt import StatementRefused, open_upload
from kluis.billing.chart import months_chart
from kluis.billing.models import BankStatement, Invoice, Payment, Refund, RefundExport
from kluis.billing.pdf import invoice_pdf
from kluis.billing.statements import ImportResult, statement_import
from kluis.formats import euro

FINANCE = ("finance",)


@never_cache
@staff_required(*FINANCE)
def overview(request: HttpRequest) -> HttpResponse:
    """Finance's landing page: what is open and late, what waits for a decision."""
    summary = selectors.finance_overview()
    return render(
        request,
        "billing/backoffice/overview.html",
        {"overview": summary, "chart": months_chart(summary.months)},
    )


@never_cache
@staff_required(*FINANCE)
def invoice_pdf_download(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    invoice = selectors.invoice_for_staff(invoice_id)
    if invoice is None:
        raise Http404
    response = HttpResponse(
        invoice_pdf(invoice, current_user(request).actor()), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response


def _import_notes(result: ImportResult) -> list[str]:
    """What finance should know of an import beyond the payments it added."""
    notes = []
    if result.skipped_accounts:
        notes.append(
            _("Overgeslagen, niet onze rekening: %(accounts)s.")
            % {"accounts": ", ".join(result.skipped_accounts)}
        )
    if result.foreign_currency:
        notes.append(
            _("%(count)s posten in een andere valuta dan euro zijn overgeslagen.")
            % {"count": result.foreign_currency}
        )
    if result.unsplit_batches:
        notes.append(
            _(
                "%(count)s verzamelposten noemen geen bedrag per betaling: "
                "koppel ze hieronder zelf aan de facturen."
            )
            % {"count": result.unsplit_batches}
        )
    if result.unallocated:
        notes.append(
            _(
                "%(count)s betalingen noemen meer dan één factuur met een ander bedrag dan "
                "wat daarop openstaat: verdeel ze hieronder zelf over de facturen."
            )
            % {"count": result.unallocated}
        )
    settlements = result.matches.get(Payment.Match.SETTLEMENT, 0)
    if settlements:
        notes.append(
            _(
                "%(count)s uitbetalingen van de betaaldienst herkend: de betalingen daarin "
                "staan al bij hun facturen."
            )
            % {"count": settlements}
        )
    return notes


@never_cache
@staff_required(*FINANCE)
def statements(request: HttpRequest) -> HttpResponse:
    form = forms.StatementUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        with tempfile.TemporaryDirectory() as tmp:
            path = open_upload(form.cleaned_data["statement"], Path(tmp) / "statement.xml")
            try:
                result = statement_import(path=path, imported_by=current_user(request))
            except StatementRefused as exc:
                form.add_error("statement", _("Niets ingelezen: %(reason)s") % {"reason": exc})
            else:
                messages.success(
                    request,
                    _("%(new)s nieuwe betalingen ingelezen, %(old)s waren er al.")
                    % {"new": result.new, "old": result.already_imported},
                )
                for note in _import_notes(result):
                    messages.warning(request, note)
                return redirect("billing_backoffice:statements")
    return render(
        request,
        "billing/backoffice/statements.html",
        {
            "form": form,
            "statements": BankStatement.objects.all()[:50],
            "proposals": Payment.objects.filter(match=Payment.Match.PROPOSED)
            .select_related("proposed_invoice")
            .order_by("booking_date")[:200],
            # One small form per payment, its field's id unique on the page.
            "unmatched": [
                (u, forms.PaymentAssignForm(auto_id=f"assign-{u.payment.pk}-%s"))
                for u in selectors.unmatched_payments(current_user(request).actor())
            ],
        },
        status=400 if request.method == "POST" else 200,
    )


@never_cache
@staff_required(*FINANCE)
@require_POST
def payment_assign(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    """Finance links a payment no rule could match to the invoice they name."""
    payment = get_object_or_404(Payment, pk=payment_id, invoice__isnull=True)
    form = forms.PaymentAssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Vul een factuurnummer in."))
        return redirect("billing_backoffice:statements")
    number = form.cleaned_data["invoice_number"]
    invoice = Invoice.objects.filter(number=number, kind=Invoice.Kind.INVOICE).first()
    if invoice is None:
        messages.error(request, _("Er is geen factuur %(number)s.") % {"number": number})
        return redirect("billing_backoffice:statements")
    try:
        services.payment_link(payment=payment, invoice=invoice, by=current_user(request))
    except services.BillingError:
        messages.error(request, _("Deze betaling is al gekoppeld."))
    else:
        messages.success(
            request, _("De betaling is aan %(number)s gekoppeld.") % {"number": invoice.number}
        )
    return redirect("billing_backoffice:statements")


REFUND_ERRORS = {
    "four_eyes": _lazy(
        "Een terugbetaling keurt een andere medewerker goed dan wie haar voorstelde."
    ),
    "no_proposer": _lazy("Neem deze terugbetaling eerst als voorstel over."),
    "restricted": _lazy(
        "De klant heeft de verwerking van zijn gegevens laten beperken (art. 18 AVG): "
        "deze terugbetaling kan pas na afloop van de beperking worden goedgekeurd."
    ),
    "not_proposed": _lazy("Over deze terugbetaling is al beslist."),
    "nothing_fits": _lazy(
        "Na de terugboeking is van deze terugbetaling niets meer gedekt: wijs hem af."
    ),
    "nothing_to_export": _lazy("Er zijn geen goedgekeurde terugbetalingen."),
    "all_held": _lazy(
        "Geen betaalbestand: elke goedgekeurde terugbetaling is tegengehouden; "
        "de reden staat erbij."
    ),
    "iban_missing": _lazy(
        "Deze betaling kwam zonder rekeningnummer: vul eerst het IBAN in waarop terugbetaald wordt."
    ),
    "iban_invalid": _lazy("Dit IBAN klopt niet: controleer het controlegetal en de lengte."),
    "name_missing": _lazy("Vul ook de naam van de rekeninghouder in."),
    "not_held": _lazy(
        "Alleen een goedgekeurde terugbetaling die is tegengehouden kan hier worden afgewezen."
    ),
    "reason_missing": _lazy("Geef een reden om de terugbetaling af te wijzen."),
    "file_invalid": _lazy("Het betaalbestand kon niet worden gemaakt; er is niets uitbetaald."),
    "not_rebuildable": _lazy(
        "Dit betaalbestand kan niet opnieuw worden gemaakt: het is van vóór het bewaren van "
        "de kopgegevens, of een rekening of naam erin is sindsdien gewist. Er is niets "
        "gedownload."
    ),
}

# Shown next to an approved refund that the last payment file held back.
HELD_REASONS = {
    "iban_missing": _lazy("geen IBAN: vul het in"),
    "iban_invalid": _lazy("IBAN ongeldig: vul het juiste in"),
    "name_missing": _lazy("naam rekeninghouder ontbreekt"),
    Refund.CHARGEBACK: _lazy(
        "de bank heeft de betaling teruggeboekt, het geld is er niet meer; vul het IBAN "
        "opnieuw in om haar toch opnieuw voor te stellen, of wijs haar af"
    ),
}


def _held(refund: Refund) -> str:
    """Why an approved refund is held, as finance reads it; after a chargeback with the
    part of it the money still covers."""
    if refund.held_reason == Refund.CHARGEBACK and refund.held_fits_cents:
        return _(
            "de bank heeft de betaling teruggeboekt; van dit bedrag is nog %(fits)s gedekt, "
            "de rest is er niet meer. Vul het IBAN opnieuw in om haar opnieuw voor te "
            "stellen, of wijs haar af"
        ) % {"fits": euro(refund.held_fits_cents)}
    return str(HELD_REASONS.get(refund.held_reason, ""))


@never_cache
@staff_required(*FINANCE)
def refunds(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "billing/backoffice/refunds.html",
        {
            "rows": [
                {
                    "refund": refund,
                    # No account from the bank, or one the last file could not pay to.
                    "needs_payee": refund.payment.iban is None or bool(refund.held_reason),
                    "held": _held(refund),
                    # One form per row, its own ids, so each label names its own field.
                    "payee_form": forms.RefundPayeeForm(auto_id=f"payee-{refund.pk}-%s"),
                    "reject_form": forms.RefundRejectForm(auto_id=f"reject-{refund.pk}-%s"),
                }
                for refund in Refund.objects.filter(
                    status__in=[Refund.Status.PROPOSED, Refund.Status.APPROVED]
                ).select_related("invoice", "payment")
            ],
            "exports": RefundExport.objects.select_related("created_by")[:20],
            # Cancelled (a proposal) or flagged (in a payment file or sent) because the
            # payment was charged back; the held approved ones are in the rows above.
            "after_chargeback": Refund.objects.filter(held_reason=Refund.CHARGEBACK)
            .exclude(status__in=[Refund.Status.PROPOSED, Refund.Status.APPROVED])
            .select_related("invoice", "replaced_by", "rejected_by")
            .order_by("-created_at")[:50],
        },
    )


def _form_refused(request: HttpRequest, form: Form) -> HttpResponse:
    """Back to the refunds page with each of the form's errors as a message."""
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))
    return redirect("billing_backoffice:refunds")


@require_POST
@staff_required(*FINANCE)
def refund_payee(request: HttpRequest, refund_id: int) -> HttpResponse:
    """Finance enters the account a refund is paid back to; a second user approves it."""
    refund = get_object_or_404(Refund, pk=refund_id)
    form = forms.RefundPayeeForm(request.POST)
    if not form.is_valid():
        return _form_refused(request, form)
    try:
        services.refund_payee_set(
            refund=refund,
            by=current_user(request),
            iban=form.cleaned_data["iban"],
            name=form.cleaned_data["name"],
        )
    except services.BillingError as exc:
        messages.error(request, str(REFUND_ERRORS.get(exc.code, exc.code)))
    else:
        messages.success(
            request,
            _("Het IBAN is opgeslagen; een andere medewerker keurt de terugbetaling goed."),
        )
    return redirect("billing_backoffice:refunds")


@require_POST
@staff_required(*FINANCE)
def refund_reject(request: HttpRequest, refund_id: int) -> HttpResponse:
    """Finance rejects a held approved refund, with a reason (no second user needed)."""
    refund = get_object_or_404(Refund, pk=refund_id)
    form = forms.RefundRejectForm(request.POST)
    if not form.is_valid():
        return _form_refused(request, form)
    try:
        services.refund_reject_held(
            refund=refund, by=current_user(request), reason=form.cleaned_data["reason"]
        )
    except services.BillingError as exc:
        messages.error(request, str(REFUND_ERRORS.get(exc.code, exc.code)))
    else:
        messages.success(request, _("De tegengehouden terugbetaling is afgewezen."))
    return redirect("billing_backoffice:refunds")


@require_POST
@staff_required(*FINANCE)
def refund_decide(request: HttpRequest, refund_id: int) -> HttpResponse:
    refund = get_object_or_404(Refund, pk=refund_id)
    form = forms.RefundDecisionForm(request.POST)
    if form.is_valid():
        by = current_user(request)
        try:
            if refund.proposed_by_id is None:
                services.refund_propose(refund=refund, by=by)
                done = _("De terugbetaling is voorgesteld; een tweede medewerker keurt haar goed.")
            elif form.cleaned_data["approve"]:
                services.refund_decide(refund=refund, by=by, approve=True)
                done = _("De terugbetaling is goedgekeurd; de klant krijgt een e-mail.")
            else:
                services.refund_decide(refund=refund, by=by, approve=False)
                done = _("De terugbetaling is afgewezen.")
        except services.BillingError as exc:
            messages.error(request, str(REFUND_ERRORS.get(exc.code, exc.code)))
        else:
            messages.success(request, done)
    else:
        messages.error(request, _("Kies goedkeuren of afwijzen."))
    return redirect("billing_backoffice:refunds")


@require_POST
@staff_required(*FINANCE)
def refunds_export(request: HttpRequest) -> HttpResponse:
    try:
        export, xml = services.refunds_export(by=current_user(request))
    except services.BillingError as exc:
        messages.error(request, str(REFUND_ERRORS.get(exc.code, exc.code)))
        return redirect("billing_backoffice:refunds")
    held = Refund.objects.filter(status=Refund.Status.APPROVED).exclude(held_reason="").count()
    if held:
        # The file downloads; the page shows this on the next visit.
        messages.warning(
            request,
            _("%(count)s terugbetalingen zijn tegengehouden; de reden staat erbij.")
            % {"count": held},
        )
    response = HttpResponse(xml, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{export.message_id}.xml"'
    return response


@require_POST
@staff_required(*FINANCE)
def refunds_export_again(request: HttpRequest, export_id: int) -> HttpResponse:
    """The same payment file again, byte for byte (finance lost or must resend it)."""
    export = get_object_or_404(RefundExport, pk=export_id)
    try:
        xml = services.refunds_export_again(export=export, by=current_user(request))
    except services.BillingError as exc:
        messages.error(request, str(REFUND_ERRORS.get(exc.code, exc.code)))
        return redirect("billing_backoffice:refunds")
    response = HttpResponse(xml, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{export.message_id}.xml"'
    return response


@require_POST
@staff_required(*FINANCE)
def payment_link(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    """Finance confirms a proposed match (amount and name) from the queue."""
    payment = get_object_or_404(Payment, pk=payment_id, match=Payment.Match.PROPOSED)
    invoice = payment.proposed_invoice
    if invoice is None:
        raise Http404
    try:
        services.payment_link(payment=payment, invoice=invoice, by=current_user(request))
    except services.BillingError:
        messages.error(request, _("Deze betaling is al gekoppeld."))
    else:
        messages.success(
            request, _("De betaling is aan %(number)s gekoppeld.") % {"number": invoice.number}
        )
    return redirect("billing_backoffice:statements")
