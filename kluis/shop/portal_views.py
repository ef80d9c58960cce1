"""The customer's own orders, their documents, and versions still to accept."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis.accounts.decorators import customer_required
from kluis.accounts.http import client_address, current_user
from kluis.accounts.models import Customer
from kluis.policy.enforce import Actor
from kluis.shop import emails, forms, selectors, services
from kluis.shop.models import Order, Subscription
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
        },
    )


@never_cache
@customer_required
def order(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    order = _order(request, order_id)
    actor = Actor.subject(order.customer_id)
    notes = (
        order.notes.reveal(purpose="contract_administration", actor=actor) if order.notes else ""
    )
    return render(
        request,
        "shop/portal/order.html",
        {"order": order, "notes": notes, "acceptances": order.acceptances.all()},
    )


@never_cache
@customer_required
def order_pdf(request: HttpRequest, order_id: uuid.UUID, kind: str) -> HttpResponse:
    if kind not in services.ORDER_DOCUMENTS:
        raise Http404
    order = _order(request, order_id)
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
    return render(
        request,
        "shop/portal/subscriptions.html",
        {"subscriptions": found, "today": timezone.localdate()},
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
