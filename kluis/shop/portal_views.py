"""The customer's own orders, their documents, and versions still to accept."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis.accounts.decorators import customer_required
from kluis.accounts.http import client_address, current_user
from kluis.accounts.models import Customer
from kluis.policy.enforce import Actor
from kluis.shop import consumer, domains, emails, forms, selectors, services
from kluis.shop.models import Order, Subscription
from kluis.shop.prices import price_display
from kluis.shop.subscription_pages import subscription_end_page


def _customer(request: HttpRequest) -> Customer:
    customer = current_user(request).customer
    assert customer is not None
    return customer


def _order(request: HttpRequest, order_id: uuid.UUID) -> Order:
    order = selectors.order_for_customer(_customer(request), order_id)
    if order is None:
        raise Http404
    return order


@customer_required
def orders(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    return render(
        request,
        "shop/portal/orders.html",
        {
            "orders": Order.objects.for_customer(customer),
            "pending": services.pending_documents(customer),
            "prices": price_display(request),
        },
    )


@never_cache
@customer_required
def order(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    return _order_page(request, _order(request, order_id))


def _order_page(request: HttpRequest, order: Order) -> HttpResponse:
    actor = Actor.subject(order.customer_id)
    notes = (
        order.notes.reveal(purpose="contract_administration", actor=actor) if order.notes else ""
    )
    lines = domains.line_texts(
        list(order.lines.all()), purpose="contract_administration", actor=actor
    )
    return render(
        request,
        "shop/portal/order.html",
        {
            "order": order,
            "lines": lines,
            "notes": notes,
            "acceptances": order.acceptances.all(),
            "can_withdraw": consumer.can_withdraw(order),
            "withdrawal_deadline": consumer.withdrawal_deadline(order),
            "prices": price_display(request),
        },
    )


def _supplied_texts(
    order: Order, supplied: list[consumer.Supplied]
) -> list[tuple[consumer.Supplied, str]]:
    texts = domains.line_texts(
        [s.line for s in supplied],
        purpose="contract_administration",
        actor=Actor.subject(order.customer_id),
    )
    return [(s, text) for s, (_line, text) in zip(supplied, texts, strict=True)]


WITHDRAW_ERRORS = {
    "withdrawal_closed": _lazy(
        "Deze bestelling kun je niet (meer) herroepen: de herroepingstermijn is voorbij of de "
        "bestelling is al geannuleerd of herroepen."
    ),
    "over_credited": _lazy(
        "Op deze factuur staat al zoveel gecrediteerd dat er niet nog meer af kan. Je "
        "herroeping is niet verwerkt; neem contact met ons op, dan regelen we het voor je. Je "
        "herroeping telt vanaf het moment van je bericht."
    ),
    "not_credited": _lazy(
        "We konden de factuur nu niet crediteren. Je herroeping is niet verwerkt; neem contact "
        "met ons op, dan regelen we het voor je. Je herroeping telt vanaf het moment van je "
        "bericht."
    ),
}


@never_cache
@customer_required
def order_withdraw(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    """A consumer withdraws from an order: what it means (GET), and doing it (POST)."""
    order = _order(request, order_id)
    form = forms.WithdrawForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.order_withdraw(order=order, by=current_user(request))
        except services.ShopError as exc:
            error = WITHDRAW_ERRORS.get(exc.code, WITHDRAW_ERRORS["not_credited"])
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _(
                    "Je hebt je bestelling herroepen. Je krijgt een creditnota, en wat je te veel "
                    "betaalde, betalen we binnen 14 dagen terug."
                ),
            )
            return redirect("shop_portal:order", order_id=order.pk)
    today = timezone.localdate()
    return render(
        request,
        "shop/portal/order_withdraw.html",
        {
            "order": order,
            "form": form,
            "open": consumer.can_withdraw(order, today),
            "deadline": consumer.withdrawal_deadline(order),
            "supplied": _supplied_texts(order, consumer.withdrawal_supplied(order, today)),
        },
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@customer_required
def order_confirm(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    order = _order(request, order_id)
    try:
        services.order_confirm_by_owner(
            order=order, user=current_user(request), client_address=client_address(request)
        )
    except services.ShopError:
        messages.error(request, _("Deze bestelling wacht niet (meer) op je bevestiging."))
    else:
        messages.success(request, _("Je hebt de bestelling bevestigd. We gaan ermee aan de slag."))
    return _order_page(request, _order(request, order_id))


@never_cache
@customer_required
def order_pdf(request: HttpRequest, order_id: uuid.UUID, kind: str) -> HttpResponse:
    order = _order(request, order_id)
    if kind not in services.ORDER_DOCUMENTS and not (kind == "withdrawal_form" and order.consumer):
        raise Http404
    pdf = emails.order_pdf(order, kind, Actor.subject(order.customer_id))
    response = HttpResponse(pdf, content_type="application/pdf")
    name = emails.FILENAMES.get(order.language, emails.FILENAMES["nl"])[kind]
    response["Content-Disposition"] = f'attachment; filename="{name}-{order.number}.pdf"'
    return response


@never_cache
@customer_required
def documents_pending(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "shop/portal/documents.html",
        {
            "pending": services.pending_documents(_customer(request)),
            "form": forms.DocumentsAcceptForm(),
        },
    )


@require_POST
@customer_required
def documents_accept(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    form = forms.DocumentsAcceptForm(request.POST)
    accepted = False
    if form.is_valid():
        accepted = bool(
            services.documents_accept(customer=customer, client_address=client_address(request))
        )
    return render(
        request,
        "shop/portal/documents.html",
        {"pending": services.pending_documents(customer), "form": form, "accepted": accepted},
        status=200 if form.is_valid() else 400,
    )


def _subscription(request: HttpRequest, subscription_id: int) -> Subscription:
    found = selectors.subscription_for_customer(_customer(request), subscription_id)
    if found is None:
        raise Http404
    return found


@never_cache
@customer_required
def subscriptions(request: HttpRequest) -> HttpResponse:
    found = Subscription.objects.for_customer(_customer(request)).select_related(
        "product", "extension", "line__order"
    )
    named = domains.subscription_names(
        list(found),
        get_language() or "nl",
        purpose="contract_administration",
        actor=Actor.subject(_customer(request).pk),
    )
    return render(
        request,
        "shop/portal/subscriptions.html",
        {"subscriptions": named, "today": timezone.localdate()},
    )


@never_cache
@customer_required
def subscription_end(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """The confirmation page (GET), and ending the subscription once confirmed (POST)."""
    found = _subscription(request, subscription_id)
    return subscription_end_page(
        request,
        found,
        area="portal",
        ended_message=_("Je abonnement is opgezegd; de dienst loopt nog tot en met %(date)s."),
    )
