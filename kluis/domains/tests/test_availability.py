"""The shop's availability check against the local registry: answers, cache, limits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from kluis.accounts import throttle
from kluis.domains import availability, epp_local
from kluis.domains.availability import domain_available
from kluis.domains.epp.client import EppClient, connect_and_login
from kluis.domains.registries import Registry
from kluis.domains.services import session_from
from kluis.domains.tests.conftest import endpoint_for
from kluis.domains.tests.test_client import setup_domain
from kluis.shop.availability import Answer, Verdict
from kluis.shop.cart import cart_get
from kluis.shop.catalogue import catalogue_load

pytestmark = pytest.mark.django_db(databases="__all__")

VISITOR = "198.51.100.7"


def test_free_taken_reserved_and_the_registrys_own_trouble(
    registries_local: epp_local.Running, epp_client: EppClient
) -> None:
    registry = registries_local.registry
    asked: list[str] = []

    def via_client(reg: Registry) -> contextlib.AbstractContextManager[EppClient]:
        asked.append(reg.key)
        return session_from(epp_client)

    def check(name: str, address: str = VISITOR) -> Answer:
        return domain_available(name, address, session_for=via_client)

    assert check("vrij-voorbeeld.nl").verdict == Verdict.FREE
    setup_domain(epp_client, "bezet.nl")
    taken = check("bezet.nl")
    assert (taken.verdict, taken.reason) == (Verdict.TAKEN, "In use")
    reserved = check("nic.nl")
    assert (reserved.verdict, reserved.reason) == (
        Verdict.NOT_POSSIBLE,
        "Reserved by the registry",
    )
    # A cached answer is a minute old at most and costs the registry nothing.
    epp_client.domain_create(
        name="vrij-voorbeeld.nl",
        years=1,
        registrant="KL-1",
        auth_pw="Token12345",
        nameservers=["ns1.winkeltjes.net"],
        admin="KL-ADM",
        tech="KL-ADM",
    )
    before = len(asked)
    assert check("vrij-voorbeeld.nl").verdict == Verdict.FREE
    assert len(asked) == before
    # 2400 on the check: the name stays unchecked, the registry is not marked down.
    registry.faults.error_on_nth = registry.commands_seen + 1
    assert check("ander-voorbeeld.nl").verdict == Verdict.UNCHECKED
    assert check("ander-voorbeeld.nl").verdict == Verdict.FREE
    assert "domain:check" in registry.received


def test_a_registry_that_cannot_be_reached_is_not_asked_again_at_once(
    registries_local: epp_local.Running,
) -> None:
    gone = endpoint_for(registries_local, timeout=2.0)
    gone = type(gone)(**{**gone.__dict__, "port": epp_local.free_port()})
    tries: list[str] = []

    @contextlib.contextmanager
    def unreachable(reg: Registry) -> Iterator[EppClient]:
        tries.append(reg.key)
        yield connect_and_login(gone)

    assert domain_available("een.nl", VISITOR, session_for=unreachable).verdict == (
        Verdict.UNCHECKED
    )
    assert domain_available("twee.nl", VISITOR, session_for=unreachable).verdict == (
        Verdict.UNCHECKED
    )
    assert tries == ["sidn"]
    # Another registry is asked as usual, through the web pool and the real settings.
    assert domain_available("vrij.com", VISITOR).verdict == Verdict.FREE


def test_a_visitor_who_asks_too_often_waits_and_others_do_not(
    registries_local: epp_local.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        availability,
        "CHECK_ADDRESS",
        throttle.Rule(
            "domain-check-address",
            2,
            availability.CHECK_ADDRESS.window,
            availability.CHECK_ADDRESS.cool_off,
        ),
    )
    assert domain_available("a-een.nl", VISITOR).verdict == Verdict.FREE
    assert domain_available("a-twee.nl", VISITOR).verdict == Verdict.FREE
    blocked = domain_available("a-een.nl", VISITOR)  # even a cached one
    assert blocked.verdict == Verdict.THROTTLED and blocked.seconds > 60
    assert domain_available("a-drie.nl", "203.0.113.9").verdict == Verdict.FREE


def _messages(response: object) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]  # type: ignore[attr-defined]


def test_the_shop_puts_a_free_name_in_the_cart_and_explains_the_others(
    registries_local: epp_local.Running, epp_client: EppClient, client: Client
) -> None:
    catalogue_load()
    setup_domain(epp_client, "bezet.nl")
    url = reverse("shop:cart-add-domain")

    response = client.post(url, {"label": "café-jansen", "tld": "de"})
    assert response.url == reverse("shop:cart")  # type: ignore[attr-defined]
    assert _messages(response) == []

    # Taken and not possible are answered on the page itself; nothing goes in the cart.
    page = client.post(url, {"label": "bezet", "tld": "nl"}).content.decode()
    assert 'class="error-summary"' in page
    assert "bezet.nl is al geregistreerd." in page and 'value="bezet"' in page
    english = client.post(url, {"label": "whois", "tld": "nl"}, HTTP_ACCEPT_LANGUAGE="en")
    assert (
        b"whois.nl cannot be registered. The registry says: Reserved by the registry"
        in english.content
    )

    registries_local.registry.faults.error_on_nth = registries_local.registry.commands_seen + 1
    response = client.post(url, {"label": "later", "tld": "be"})
    assert response.url == reverse("shop:cart")  # type: ignore[attr-defined]
    (unchecked,) = _messages(response)
    assert unchecked.startswith("We konden de registry nu niet vragen of je domeinnaam vrij is.")

    assert [line.domain for line in cart_get(client.session).domains] == [
        "xn--caf-jansen-d7a.de",
        "later.be",
    ]
