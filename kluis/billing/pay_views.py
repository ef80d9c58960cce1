"""Paying an invoice with iDEAL: the signed link's page, the return page and the webhook.

None of these needs a login: the link is signed and expires, and the webhook carries
only a payment id, whose status is fetched from the provider. Every refusal is a page
or a short text in the visitor's language, never a traceback.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from kluis.billing import mollie, online
from kluis.billing.models import Invoice, OnlinePayment
from kluis.billing.payee import payee
from kluis.billing.services import BillingError


def _refusal(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(
        request, "billing/pay/refused.html", {"message": message, "payee": payee()}, status=status
    )


def _link_refused(request: HttpRequest, code: str) -> HttpResponse:
    if code == "expired":
        return _refusal(
            request,
            _("Deze betaallink is verlopen. Log in op je klantportaal voor een nieuwe link."),
            410,
        )
    return _refusal(request, _("Deze betaallink klopt niet."), 400)


def _invoice_state(invoice: Invoice) -> str:
    if invoice.kind != Invoice.Kind.INVOICE:
        return "not_an_invoice"
    if invoice.is_paid:
        return "paid"
    return "open" if invoice.is_payable else "credited"


@never_cache
@require_http_methods(["GET", "POST"])
def invoice(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invoice = online.invoice_of_token(token)
    except online.LinkError as exc:
        return _link_refused(request, exc.code)
    state = _invoice_state(invoice)
    if request.method == "POST" and state == "open" and online.ideal_enabled():
        return_url = online.pay_url(invoice) + "terug/"
        try:
            started = online.ideal_start(invoice=invoice, return_url=return_url)
        except BillingError:
            invoice.refresh_from_db()
            state = _invoice_state(invoice)
        except mollie.ProviderError:
            return _refusal(
                request,
                _(
                    "iDEAL is nu niet bereikbaar. Probeer het later opnieuw, of betaal per "
                    "overboeking."
                ),
                503,
            )
        else:
            return _see_other(started.checkout_url)
    response = render(
        request,
        "billing/pay/invoice.html",
        {
            "invoice": invoice,
            "state": state,
            "ideal": online.ideal_enabled(),
            "payee": payee(),
        },
        status=200 if request.method == "GET" or state == "open" else 409,
    )
    # The button's POST is answered with a redirect to the provider's checkout, which
    # the browser follows only when the page's CSP allows that origin as a form target.
    response._csp_update = {  # type: ignore[attr-defined]
        "form-action": [settings.KLUIS_MOLLIE_CHECKOUT_ORIGIN]
    }
    return response


def _see_other(url: str) -> HttpResponse:
    response = HttpResponse(status=303)
    response["Location"] = url
    return response


@never_cache
def returned(request: HttpRequest, token: str) -> HttpResponse:
    """Where the provider sends the payer back: ask the provider, then say what happened."""
    try:
        invoice = online.invoice_of_token(token)
    except online.LinkError as exc:
        return _link_refused(request, exc.code)
    latest = OnlinePayment.objects.filter(invoice=invoice).order_by("-created_at").first()
    provider_status = latest.status if latest is not None else ""
    if latest is not None and latest.payment_id is None:
        try:
            provider_status = online.ideal_sync(online=latest).status
        except mollie.ProviderError:
            provider_status = "unknown"
    invoice.refresh_from_db()
    return render(
        request,
        "billing/pay/returned.html",
        {
            "invoice": invoice,
            "state": _invoice_state(invoice),
            "provider_status": provider_status,
            "pay_again": reverse("billing_pay:invoice", args=[token]),
            "payee": payee(),
        },
    )


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    """The provider's call: `id=tr_…` and nothing else is read."""
    provider_id = request.POST.get("id", "")
    if not online.PROVIDER_ID.match(provider_id):
        return HttpResponse(
            _("Geen geldig betaling-id."), status=400, content_type="text/plain; charset=utf-8"
        )
    known = online.known_payment(provider_id)
    if known is None:
        # Not one of ours: answered plainly, and never fetched from the provider.
        return HttpResponse(
            _("Onbekende betaling; genegeerd."), content_type="text/plain; charset=utf-8"
        )
    try:
        online.ideal_sync(online=known)
    except mollie.ProviderError:
        # The provider calls again later when the answer is not 200.
        return HttpResponse(
            _("De betaaldienst is nu niet bereikbaar; probeer het later opnieuw."),
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(_("Verwerkt."), content_type="text/plain; charset=utf-8")
