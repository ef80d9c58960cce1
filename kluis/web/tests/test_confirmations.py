"""After an action, the page it lands on says what happened (a flash message in a status region)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from kluis.testing import ROUTES, log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _status_messages(response) -> str:
    """The text of the flash messages region every base template shows."""
    markup = response.content.decode()
    match = re.search(r'role="status"[^>]*>(.*?)</div>', markup, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()) if match else ""


def test_a_rights_request_from_the_portal_is_confirmed(client, personas):
    log_in(client, personas.alice)
    response = client.post(reverse("rights_portal:requests"), {"kind": "access"}, follow=True)
    assert response.status_code == 200
    assert "We hebben je verzoek ontvangen" in _status_messages(response)


def test_a_request_registered_by_the_privacy_officer_is_confirmed(client, personas):
    log_in(client, personas.staff["privacy_officer"])
    response = client.post(
        reverse("rights_backoffice:register"),
        {
            "name": "Carla Peeters",
            "email": "carla@example.be",
            "kind": "access",
            "received_on": "2026-12-01",
            "customer_number": "",
        },
        follow=True,
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "Het verzoek is vastgelegd." in _status_messages(response)


def test_an_erasure_held_back_links_to_where_the_customer_ends_what_runs(client, personas):
    from kluis.shop.models import Order
    from kluis.shop.testing import make_order, make_subscription

    make_order(personas.customer_a, status=Order.Status.PAID)
    make_subscription(personas.customer_a)
    log_in(client, personas.alice)
    page = client.get(reverse("rights_portal:erase")).content.decode()
    # The portal's menu links there too; the link must be in the reason itself.
    held = dict(re.findall(r"<li><strong>(.*?)</strong>(.*?)</li>", page, re.S))
    order_line = held["Er loopt nog 1 bestelling."]
    assert f'href="{reverse("shop_portal:orders")}"' in order_line
    [subscription_line] = [v for k, v in held.items() if "abonnement" in k]
    assert f'href="{reverse("shop_portal:subscriptions")}"' in subscription_line


@pytest.mark.parametrize(
    ("unpaid", "reason"),
    [
        (1, "Er staat nog 1 onbetaalde factuur open."),
        (2, "Er staan nog 2 onbetaalde facturen open."),
    ],
)
def test_an_erasure_held_back_by_unpaid_invoices_counts_them_and_links_to_them(
    client, personas, unpaid, reason
):
    from django.utils import translation

    from kluis.billing import services
    from kluis.billing.tests.helpers import order_for

    for _ in range(unpaid):
        services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    log_in(client, personas.alice)
    with translation.override("nl"):
        page = client.get(reverse("rights_portal:erase")).content.decode()
    held = dict(re.findall(r"<li><strong>(.*?)</strong>(.*?)</li>", page, re.S))
    assert reason in held, sorted(held)
    assert f'href="{reverse("billing_portal:invoices")}"' in held[reason]


# A reveal answers with the value itself; it decides nothing.
BACK_OFFICE_POSTS = sorted(
    name
    for name, r in ROUTES.items()
    if r.audience == "backoffice" and r.method == "post" and not name.endswith("-reveal")
)


@pytest.mark.parametrize("name", BACK_OFFICE_POSTS)
def test_every_back_office_decision_says_what_happened(client, personas, name):
    """Each POST of the back office (approve a refund, decide a role, link a payment, …)
    lands on a page with a message saying what happened, or the form with its errors."""
    route = ROUTES[name]
    kwargs = route.kwargs(personas) if route.kwargs else None
    role = sorted(route.roles)[0] if route.roles else "admin"
    log_in(client, personas.staff[role])
    data = route.data(personas) if route.data else {}
    response = client.post(reverse(name, kwargs=kwargs), data, follow=True)
    if "text/html" not in response.get("Content-Type", ""):
        return  # a file: the download is the answer
    html = response.content.decode()
    said = _status_messages(response) or "error-summary" in html
    assert said, (response.status_code, response.redirect_chain, data)
