"""Checkout: asks only what the order needs, and turns bad input into clear errors."""

from __future__ import annotations

import html
import threading

import pytest
from django.core import mail
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import translation

from kluis.accounts.models import Customer, User
from kluis.mail.models import OutboxMessage
from kluis.shop import documents, services
from kluis.shop.cart import cart_get
from kluis.shop.models import Acceptance, Order
from kluis.shop.tests.helpers import checkout, fill_cart
from kluis.shop.vies import ViesAnswer
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _fields(response) -> set[str]:
    form = response.context["form"]
    return set(form.fields)


def test_a_new_visitor_orders_and_gets_an_account_without_password_and_an_activation_mail(
    client, catalogue
):
    token = fill_cart(client, domains=("visser.nl",))
    response = checkout(client, token, notes="Graag voor 1 december.")
    assert response.status_code == 302 and response["Location"] == reverse("shop:confirmation")
    order = Order.objects.get()
    assert order.status == Order.Status.RECEIVED and order.total_cents == 1995 + 995
    user = User.objects.get_by_email("eva@example.nl")
    assert user is not None and not user.has_usable_password() and user.customer == order.customer
    [activation] = mail.outbox
    assert activation.to == ["eva@example.nl"]
    # The confirmation is in the outbox, with both documents as attachments, and (she
    # orders as a consumer) the model withdrawal form.
    [queued] = OutboxMessage.objects.all()
    assert queued.dedupe_key == f"order:{order.pk}:status:received"
    assert [a.filename for a in queued.attachments.all()] == [
        f"overeenkomst-{order.number}.pdf",
        f"verwerkersovereenkomst-{order.number}.pdf",
        f"modelformulier-herroeping-{order.number}.pdf",
    ]
    page = client.get(reverse("shop:confirmation")).content.decode()
    assert order.number in page
    # The cart is gone with the order.
    assert "Je winkelmandje is leeg." in client.get(reverse("shop:cart")).content.decode()


def test_acceptance_evidence_keeps_version_hash_time_and_a_sealed_ip(client, catalogue):
    token = fill_cart(client)
    checkout(client, token)
    order = Order.objects.get()
    kept = {a.document: a for a in Acceptance.objects.filter(order=order)}
    # A consumer was shown the withdrawal information; she did not ask to start at once.
    assert set(kept) == {"agreement", "processor_agreement", "withdrawal_info"}
    assert not kept["withdrawal_info"].pdf_sha256
    kept.pop("withdrawal_info")
    from kluis.shop import documents

    for kind, acceptance in kept.items():
        assert acceptance.version == documents.current_version(kind)
        assert acceptance.text_sha256 == documents.current(kind, "nl").sha256
        assert len(acceptance.pdf_sha256) == 64
        assert acceptance.accepted_at is not None
        raw = Acceptance.objects.filter(pk=acceptance.pk).values_list("ip_address", flat=True)[0]
        assert b"127.0.0.1" not in bytes(raw)
        assert acceptance.ip_address.category == "kluis.contract_evidence_ip"


def test_a_person_ordering_a_package_is_asked_no_vat_kvk_or_consent(client, catalogue):
    fill_cart(client)
    fields = _fields(client.get(reverse("shop:checkout")))
    assert {"kvk_number", "kvk_extract", "non_eu_consent"}.isdisjoint(fields)
    assert {"name", "street", "email", "phone", "notes", "accept"} <= fields


def test_a_non_eu_extension_shows_the_whois_notice_and_asks_consent(client, catalogue):
    fill_cart(client, domains=("visser.com",))
    response = client.get(reverse("shop:checkout"))
    assert "non_eu_consent" in _fields(response)
    page = html.unescape(response.content.decode())
    assert "WHOIS/RDAP" in page and "visser.com: VeriSign, Inc. in de Verenigde Staten" in page
    label = response.context["form"].fields["non_eu_consent"].label
    assert "aan VeriSign, Inc. in de Verenigde Staten, buiten de EU" in label


def test_the_consent_names_each_registry_outside_the_eu_of_the_cart(client, catalogue):
    translation.activate("nl")
    fill_cart(client, domains=("visser.com", "visser.net", "visser.org", "visser.nl"))
    response = client.get(reverse("shop:checkout"))
    label = str(response.context["form"].fields["non_eu_consent"].label)
    # VeriSign once for .com and .net, PIR for .org, each with its country; SIDN not.
    assert (
        "aan VeriSign, Inc. in de Verenigde Staten en Public Interest Registry in de Verenigde"
        " Staten," in label
    )
    assert "SIDN" not in label and "registrar" not in label.casefold()
    notice = html.unescape(response.content.decode())
    assert "visser.org: Public Interest Registry in de Verenigde Staten" in notice
    # The notice the customer accepts names them too, by the policy's names.
    assert "VeriSign, Inc." in notice and "registratieplatform" not in notice


def test_a_non_eu_extension_without_consent_is_refused_and_makes_no_order(client, catalogue):
    token = fill_cart(client, domains=("visser.com",))
    response = checkout(client, token)
    assert response.status_code == 400
    assert "Zonder je toestemming" in response.content.decode()
    assert not Order.objects.exists() and not Customer.objects.exists()


def test_with_consent_the_non_eu_extension_is_ordered_and_the_consent_kept(client, catalogue):
    token = fill_cart(client, domains=("visser.com",))
    assert checkout(client, token, non_eu_consent="on").status_code == 302
    order = Order.objects.get()
    assert order.non_eu_consent and order.whois_notice_version == "1.1"
    accepted = Acceptance.objects.get(order=order, document="whois_notice", version="1.1")
    # The evidence is the hash of a text that names the registry the consent is for.
    shown = documents.document("whois_notice", "1.1", accepted.language)
    assert accepted.text_sha256 == shown.sha256
    assert "VeriSign, Inc. in de Verenigde Staten: .com en .net" in shown.text


def test_the_confirmation_repeats_the_non_eu_consent_and_when_it_was_given(client, catalogue):
    from django.utils import formats, timezone

    from kluis.mail.delivery import build_email

    token = fill_cart(client, domains=("visser.com",))
    assert checkout(client, token, non_eu_consent="on").status_code == 302
    order = Order.objects.get()
    given = Acceptance.objects.get(order=order, document="whois_notice").accepted_at
    [confirmation] = OutboxMessage.objects.filter(dedupe_key__endswith="status:received")
    text = " ".join(build_email(confirmation).body.split())
    when = formats.date_format(timezone.localtime(given), "j F Y, H:i")
    assert f"Op {when} gaf je uitdrukkelijk toestemming" in text
    assert "aan VeriSign, Inc. in de Verenigde Staten, buiten de EU" in text
    assert "WHOIS of RDAP" in text
    assert "intrekken" in text


def test_an_order_without_a_non_eu_domain_says_nothing_of_that_consent(client, catalogue):
    from kluis.mail.delivery import build_email

    assert checkout(client, fill_cart(client)).status_code == 302
    [confirmation] = OutboxMessage.objects.filter(dedupe_key__endswith="status:received")
    assert "registry buiten de EU" not in build_email(confirmation).body


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": ""}, "name"),
        ({"email": "geen-adres"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"postcode": "<script>"}, "postcode"),
        ({"accept": None}, "accept"),
        ({"kind": "organisation", "company_name": ""}, "company_name"),
        ({"name": "J\u202eansen"}, "name"),
        ({"notes": "a\x00b"}, "notes"),
        ({"notes": "x" * 2001}, "notes"),
    ],
)
def test_missing_or_invalid_fields_get_a_clear_error_and_no_order(client, catalogue, fields, error):
    token = fill_cart(client)
    response = checkout(client, token, **fields)
    assert response.status_code == 400
    assert response.context["form"].errors[error]
    assert not Order.objects.exists()


def test_a_vat_number_with_a_bad_checksum_is_refused_before_vies(client, catalogue, vies):
    token = fill_cart(client)
    response = checkout(
        client,
        token,
        kind="organisation",
        company_name="Peeters BV",
        country="BE",
        postcode="2000",
        vat_number="BE0403019262",
    )
    assert response.status_code == 400
    assert "controlegetal" in response.content.decode()
    assert vies.requests == [] and not Order.objects.exists()


def test_the_vat_number_is_only_used_for_an_eu_business_outside_the_netherlands(
    client, catalogue, vies
):
    token = fill_cart(client)
    response = checkout(client, token, vat_number="BE0403019261")  # a Dutch consumer
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.vat_status == Order.Vat.NOT_ASKED and order.customer.vat_number is None
    assert vies.requests == []


def test_a_person_sending_the_business_fields_anyway_keeps_none_of_them(client, catalogue, vies):
    """Without JavaScript or CSS every field is on the page; what does not apply to the
    chosen customer type is ignored by the server, not stored."""
    token = fill_cart(client, domains=("visser.nl",))
    response = checkout(
        client, token, kind="person", company_name="Visser BV", kvk_number="12345678"
    )
    assert response.status_code == 302
    customer = Order.objects.get().customer
    assert customer.kind == "person"
    assert customer.company_name is None and customer.kvk_number is None
    assert vies.requests == []


def test_two_checkouts_of_the_same_cart_make_one_order(client, catalogue):
    token = fill_cart(client)
    assert checkout(client, token).status_code == 302
    again = checkout(client, token)
    assert again.status_code == 400
    assert "al besteld" in again.content.decode() or "leeg" in again.content.decode()
    assert Order.objects.count() == 1


def test_the_idempotency_key_holds_in_the_service_too(client, catalogue):
    fill_cart(client)
    cart = cart_get(client.session)
    customer = Customer.objects.create(number="K1")
    customer.name = "Eva"
    customer.email = "eva@example.nl"
    customer.save()
    kwargs = dict(
        cart=cart,
        customer=customer,
        new_customer=None,
        language="nl",
        notes="",
        accepted=True,
        non_eu_consent=False,
        vat=None,
        kvk=None,
        client_address="127.0.0.1",
    )
    services.order_place(**kwargs)
    with pytest.raises(services.ShopError) as refused:
        services.order_place(**kwargs)
    assert refused.value.code == "already_ordered"
    assert Order.objects.count() == 1


def test_a_returning_customer_logs_in_and_is_asked_nothing_again(client, personas, catalogue):
    log_in(client, personas.bob)
    token = fill_cart(client, domains=("jansen.nl",))
    fields = _fields(client.get(reverse("shop:checkout")))
    # A consumer is asked, for each order, whether to start at once (it is not kept).
    assert fields == {"token", "notes", "accept", "start_now"}
    response = client.post(reverse("shop:checkout"), {"token": token, "accept": "on"})
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.customer == personas.customer_b
    assert Customer.objects.count() == 2


def test_a_returning_eu_business_is_checked_in_vies_with_the_number_on_file(
    client, personas, catalogue, vies
):
    customer = personas.customer_b
    customer.kind = "organisation"
    customer.country = "BE"
    customer.vat_number = "BE0403019261"
    customer.save()
    log_in(client, personas.bob)
    token = fill_cart(client)
    assert "vat_number" not in _fields(client.get(reverse("shop:checkout")))
    assert (
        client.post(reverse("shop:checkout"), {"token": token, "accept": "on"}).status_code == 302
    )
    assert vies.requests == [{"countryCode": "BE", "vatNumber": "0403019261"}]
    assert Order.objects.get().vat_status == Order.Vat.VALID


def test_staff_cannot_order_for_a_customer(client, personas, catalogue):
    log_in(client, personas.staff["orders"])
    fill_cart(client)
    assert client.get(reverse("shop:checkout")).status_code == 404


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_two_concurrent_checkouts_of_one_cart_make_one_order(catalogue):
    client = Client()
    fill_cart(client)
    cart = cart_get(client.session)
    customer = Customer(number="K2")
    customer.name = "Eva"
    customer.email = "eva@example.nl"
    customer.save()
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def place() -> None:
        try:
            barrier.wait()
            services.order_place(
                cart=cart,
                customer=customer,
                new_customer=None,
                language="nl",
                notes="",
                accepted=True,
                non_eu_consent=False,
                vat=None,
                kvk=None,
                client_address="127.0.0.1",
            )
            outcomes.append("placed")
        except services.ShopError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=place) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["already_ordered", "placed"]
    assert Order.objects.count() == 1


def test_vies_unavailable_is_not_exempt(catalogue):
    assert services._vat_status(ViesAnswer("unavailable", "MS_UNAVAILABLE")) == Order.Vat.PENDING
