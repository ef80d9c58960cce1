"""The access-control harness: who may open which URL, for every URL of kluis.

Data-driven from kluis.testing.ROUTES. Every URL pattern that takes an argument (an
object id or a token), and every portal and back-office page, must be registered
there, or the first test fails: a later issue that adds such a URL registers it
and so gets these checks for free.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from kluis.testing import (
    ROUTES,
    STAFF_ROLES,
    Personas,
    Route,
    log_in,
    make_staff,
    url_patterns,
)

pytestmark = pytest.mark.django_db(databases="__all__")

PATTERNS = url_patterns()
GUARDED = sorted(n for n, r in ROUTES.items() if r.audience in ("account", "portal", "backoffice"))
PORTAL = sorted(n for n, r in ROUTES.items() if r.audience == "portal")
BACKOFFICE = sorted(n for n, r in ROUTES.items() if r.audience == "backoffice")
OBJECTS = sorted(
    n for n, r in ROUTES.items() if r.kwargs and r.audience in ("portal", "backoffice")
)
PUBLIC_WITH_ARGUMENTS = sorted(n for n, r in ROUTES.items() if r.kwargs and r.audience == "public")
TOKENS = sorted(n for n, r in ROUTES.items() if r.audience == "token")
PRIVATE_PREFIXES = ("portaal/", "backoffice/", "account/")


def _open(client: Client, name: str, personas: Personas, *, with_data: bool = True):
    route: Route = ROUTES[name]
    url = reverse(name, kwargs=route.kwargs(personas) if route.kwargs else None)
    if route.method == "post":
        data = route.data(personas) if route.data and with_data else {}
        return client.post(url, data)
    return client.get(url)


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        reverse("accounts:login") + "?next="
    )


# --- the registry covers every URL --------------------------------------------------


def test_every_url_that_takes_an_argument_is_registered():
    missing = [p.describe() for p in PATTERNS if p.arguments and p.name not in ROUTES]
    assert not missing, (
        "URL patterns that take an object id or token are missing from kluis.testing.ROUTES "
        f"(register who may open them): {missing}"
    )


def test_every_portal_back_office_and_account_page_is_registered():
    missing = [
        p.describe()
        for p in PATTERNS
        if p.route.startswith(PRIVATE_PREFIXES) and p.name not in ROUTES
    ]
    assert not missing, f"register these in kluis.testing.ROUTES: {missing}"


def test_every_registered_route_still_exists():
    names = {p.name for p in PATTERNS}
    assert not sorted(set(ROUTES) - names)


def test_the_walk_finds_the_object_pages_of_the_back_office():
    found = {p.name: p for p in PATTERNS}
    assert found["backoffice:customer"].arguments == ("customer_id",)
    assert set(found["accounts:activate"].arguments) == {"uidb64", "token"}


# --- anonymous visitors ---------------------------------------------------------------


@pytest.mark.parametrize("name", GUARDED)
def test_anonymous_visitors_are_sent_to_login(client, personas, name):
    response = _open(client, name, personas)
    assert _is_login_redirect(response), (name, response.status_code)


# --- customers --------------------------------------------------------------------------


@pytest.mark.parametrize("name", OBJECTS)
def test_customer_b_gets_404_for_every_object_of_customer_a(client, personas, name):
    log_in(client, personas.bob)
    assert _open(client, name, personas).status_code == 404


@pytest.mark.parametrize("name", PORTAL)
def test_a_customer_opens_their_own_portal_pages(client, personas, name):
    log_in(client, personas.alice)
    response = _open(client, name, personas)
    if ROUTES[name].method == "post":
        # A form that worked redirects (post/redirect/get), never to the login.
        assert response.status_code in (200, 302), (name, response.status_code)
        assert not _is_login_redirect(response)
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("name", BACKOFFICE)
def test_customers_do_not_find_back_office_pages(client, personas, name):
    log_in(client, personas.alice)
    assert _open(client, name, personas).status_code == 404


# --- staff ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.parametrize("name", BACKOFFICE)
def test_each_staff_role_gets_only_its_own_pages(client, personas, name, role):
    route = ROUTES[name]
    log_in(client, personas.staff[role])
    response = _open(client, name, personas)
    if not route.roles or role in route.roles:
        assert response.status_code in (200, 302), (name, role, response.status_code)
        assert not _is_login_redirect(response)
    else:
        assert response.status_code == 403, (name, role, response.status_code)


@pytest.mark.parametrize("name", PORTAL)
def test_staff_cannot_open_customer_portal_pages(client, personas, name):
    log_in(client, personas.staff["support"])
    assert _open(client, name, personas).status_code == 403


@pytest.mark.parametrize("name", BACKOFFICE)
def test_staff_without_a_second_factor_are_sent_to_set_it_up_first(client, personas, name):
    newcomer = make_staff(roles=list(STAFF_ROLES), mfa=False)
    log_in(client, newcomer)
    response = _open(client, name, personas)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:mfa-totp")


# --- links with a token -------------------------------------------------------------


@pytest.mark.parametrize("name", TOKENS)
def test_a_link_with_a_tampered_token_opens_nothing(client, personas, name):
    build = ROUTES[name].kwargs
    assert build is not None
    kwargs = build(personas)
    kwargs["token"] = kwargs["token"][:-2] + ("aa" if not kwargs["token"].endswith("aa") else "bb")
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 400
    assert b"new_password1" not in response.content
    assert b"csrfmiddlewaretoken" not in response.content.split(b"</header>")[-1]


@pytest.mark.parametrize("name", TOKENS)
def test_a_link_with_its_own_token_opens_for_anyone_holding_it(client, personas, name):
    assert _open(client, name, personas).status_code == 200


@pytest.mark.parametrize("name", PUBLIC_WITH_ARGUMENTS)
def test_public_pages_with_arguments_open_for_anonymous_visitors(client, personas, name):
    assert _open(client, name, personas).status_code == 200


# --- what the pages show ------------------------------------------------------------

ALICE_DOMAIN = "alice-de-vries-merk.nl"
BOB_DOMAIN = "bob-jansen-merk.nl"
# Alice's plain values, by category, as her pages might show them.
ALICE_VALUES = {
    "user.name": "Alice de Vries",
    "user.contact.email": "alice@example.nl",
    "kluis.vat_number": "NL000099998B57",
    "kluis.domain_name": ALICE_DOMAIN,
}
BODY_TYPES = ("text/html", "text/csv", "text/plain", "application/json")


@dataclass(frozen=True)
class Others:
    """What of Bob a page about Alice, or a page for Alice, must never show."""

    markers: tuple[str, ...]
    # Bob's identifiers that a back-office list of everyone may show.
    listed: tuple[str, ...]


@pytest.fixture
def others(personas: Personas) -> Others:
    """Bob with an order, a running domain and an invoice; Alice with a domain too."""
    from kluis.billing import services as billing
    from kluis.billing.rates import vat_rates_load
    from kluis.shop.testing import make_order, make_subscription

    vat_rates_load()
    make_subscription(personas.customer_a, domain=ALICE_DOMAIN)
    [bob_hosting, _domain] = make_subscription(personas.customer_b, domain=BOB_DOMAIN)
    order = bob_hosting.line.order
    invoice = billing.invoice_issue(order=make_order(personas.customer_b), issued_by=None)
    customer = personas.customer_b.number
    return Others(
        markers=("Bob Jansen", "bob@example.nl", BOB_DOMAIN, order.number, invoice.number),
        listed=(customer, order.number, invoice.number),
    )


def _body(response) -> str:
    kind = response.get("Content-Type", "").split(";")[0]
    if response.status_code != 200 or kind not in BODY_TYPES:
        return ""
    return response.content.decode()


def _bodies_checked(name: str) -> bool:
    return ROUTES[name].method == "get"


@pytest.mark.parametrize("name", [n for n in PORTAL if _bodies_checked(n)])
def test_a_customers_portal_pages_show_their_object_and_nothing_of_another(
    client, personas, others, name
):
    route = ROUTES[name]
    log_in(client, personas.alice)
    kwargs = route.kwargs(personas) if route.kwargs else None
    body = _body(client.get(reverse(name, kwargs=kwargs)))
    leaked = [m for m in (*others.markers, *others.listed) if m in body]
    assert not leaked, (name, leaked)
    if route.expect is not None and kwargs is not None:
        assert route.expect(kwargs) in body, name


PERMITTED = [
    (name, role)
    for name in BACKOFFICE
    if _bodies_checked(name)
    for role in STAFF_ROLES
    if not ROUTES[name].roles or role in ROUTES[name].roles
]


@pytest.mark.parametrize(("name", "role"), PERMITTED)
def test_back_office_pages_show_no_personal_data_a_role_did_not_reveal(
    client, personas, others, name, role
):
    route = ROUTES[name]
    log_in(client, personas.staff[role])
    kwargs = route.kwargs(personas) if route.kwargs else None
    body = _body(client.get(reverse(name, kwargs=kwargs)))
    shown = [c for c, value in ALICE_VALUES.items() if value in body and c not in route.shows]
    assert not shown, (name, role, shown)
    # Bob's personal data on no page; his numbers only on lists of everyone.
    leaked = [m for m in others.markers if m in body and (kwargs or m not in others.listed)]
    assert not leaked, (name, role, leaked)
    if route.expect is not None and kwargs is not None:
        assert route.expect(kwargs) in body, (name, role)
