"""The customer portal: the customer's own pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language

from kluis.accounts import selectors
from kluis.accounts.decorators import customer_required
from kluis.accounts.http import current_user


@customer_required
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard: open invoices, running services, domains that stop, open questions."""
    from kluis.billing.online import ideal_enabled
    from kluis.web.dashboard import portal_dashboard

    customer = current_user(request).customer
    assert customer is not None
    return render(
        request,
        "accounts/portal/home.html",
        {
            "customer": customer,
            "board": portal_dashboard(customer, language=get_language() or "nl", as_customer=True),
            "ideal": ideal_enabled(),
        },
    )


@customer_required
def my_data(request: HttpRequest) -> HttpResponse:
    customer = current_user(request).customer
    assert customer is not None
    from kluis.rights.selectors import limits_shown

    return render(
        request,
        "accounts/portal/my_data.html",
        {
            "customer": customer,
            "data": selectors.my_data(customer),
            "limits": limits_shown(customer.pk),
        },
    )
