"""Transfer in with an auth code, against the local registry: approval at once (.nl),
pending and approved or rejected later (.com, by poll message or by query), the
registry's refusals, the non-EU consent, and a worker killed after the registry's yes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from kluis.accounts.models import Customer
from kluis.api.testing import bearer, token_for
from kluis.audit.models import AuditEntry, Disclosure
from kluis.domains import epp_local, registries, services, shop_link, transfers
from kluis.domains.epp.client import connect_and_login
from kluis.domains.models import DomainRegistration, TransferCode
from kluis.domains.tests.conftest import endpoint_for, taken_elsewhere
from kluis.domains.tests.test_killed import KILLED, _rerun_after_the_lease, _run, settings_reset
from kluis.domains.tests.test_registration import queued, with_address
from kluis.mail.delivery import deliver_due
from kluis.mail.models import OutboxMessage
from kluis.shop.models import Order
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")
CODE = "Token12345"  # the auth code taken_elsewhere gives its domains
__all__ = ["settings_reset"]


def transfer_queued(
    customer: Customer,
    domain: str,
    code: str = CODE,
    *,
    consent: bool = False,
    language: str = "nl",
) -> DomainRegistration:
    """An order line for `domain` ordered as a transfer, queued as its order moved."""

    def with_code(order: Order) -> None:
        Order.objects.filter(pk=order.pk).update(language=language)
        for line in shop_link.domain_lines(order):
            transfers.transfer_code_store(line_id=line.pk, code=code)

    registration = queued(customer, domain, consent=consent, before_queue=with_code)
    assert registration.kind == DomainRegistration.Kind.TRANSFER
    return registration


def _requests(running: epp_local.Running) -> list[str]:
    """The losing registrar's poll queue: one message per transfer request it got."""
    return [m.text for m in running.registry.polls.get("other-registrar", [])]


def test_a_nl_domain_moves_at_once_holder_nameservers_expiry_and_ledger(
    personas: Personas, registries_local: epp_local.Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    customer = with_address(personas.customer_a)
    taken_elsewhere(registries_local, "verhuist.nl")
    registration = transfer_queued(customer, "verhuist.nl")
    assert bytes(TransferCode.objects.get().sealed).find(CODE.encode()) == -1  # sealed

    outcome = transfers.transfers_run()
    assert outcome == "0 transfers requested, 1 completed, 0 failed or refused, 0 waiting"
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED
    record = registries_local.registry.domains["verhuist.nl"]
    assert record.sponsor == "kluis-sidn"
    assert registration.contact is not None
    assert record.registrant == registration.contact.handle
    assert record.nameservers == list(settings.KLUIS_EPP_NAMESERVERS)
    assert registration.nameservers == list(settings.KLUIS_EPP_NAMESERVERS)
    assert registration.expires_on == timezone.localdate(
        dt.datetime.fromisoformat(record.expires.replace(".0Z", "+00:00"))
    )
    assert not TransferCode.objects.exists()  # discarded once done
    sent = Disclosure.objects.filter(subject=customer.id, recipient=registries_local_recipient())
    assert sorted("domain:" in d.reference for d in sent) == [False, True]
    assert AuditEntry.objects.filter(action="domains.transferred_in").count() == 1
    assert CODE not in caplog.text
    # Nothing more to do on a rerun: no second request.
    transfers.transfers_run(now=timezone.now() + dt.timedelta(hours=2))
    assert _requests(registries_local) == ["Transfer serverApproved for verhuist.nl"]


def _losing_answers(running: epp_local.Running, op: str, name: str) -> None:
    """The losing registrar approves or rejects the transfer; our poll job hears it."""
    losing = connect_and_login(endpoint_for(running, "other-registrar", sidn=False))
    losing.domain_transfer(op=op, name=name)
    losing.logout()
    services.poll_messages_run()


def registries_local_recipient() -> str:
    return registries.REGISTRIES["sidn"].recipient


def test_a_com_transfer_waits_and_the_poll_message_of_the_approval_completes_it(
    personas: Personas, registries_local: epp_local.Running, client: Client
) -> None:
    customer = with_address(personas.customer_a)
    taken_elsewhere(registries_local, "verhuist.com")
    registration = transfer_queued(customer, "verhuist.com", consent=True)

    assert transfers.transfers_run().startswith("1 transfers requested, 0 completed")
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.TRANSFER_PENDING
    assert TransferCode.objects.exists()  # kept while it may be needed for a query

    translation.activate("nl")
    log_in(client, personas.alice)
    page = client.get(reverse("domains_portal:domains")).content.decode()
    assert "verhuizing loopt" in page
    staff = Client()
    log_in(staff, personas.staff["orders"])
    desk = staff.get(reverse("domains_backoffice:desk")).content.decode()
    assert "verhuizing loopt" in desk and "verhuizing naar ons" in desk
    token = token_for(personas.alice, ["domains:read"])
    (listed,) = json.loads(Client().get("/api/v1/domains", **bearer(token)).content)
    assert listed["status"] == "transfer_pending" and listed["domain"] == "verhuist.com"

    losing = connect_and_login(endpoint_for(registries_local, "other-registrar", sidn=False))
    losing.domain_transfer(op="approve", name="verhuist.com")
    losing.logout()
    services.poll_messages_run()
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED, registration.last_error
    assert registration.expires_on is not None
    assert registries_local.registry.domains["verhuist.com"].sponsor == "kluis-verisign"
    assert not TransferCode.objects.exists()
    assert _requests(registries_local) == ["Transfer pending for verhuist.com"]


def test_without_a_poll_message_the_job_asks_the_registry_itself(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    taken_elsewhere(registries_local, "stil.com")
    registration = transfer_queued(customer, "stil.com", consent=True)
    transfers.transfers_run()
    # The losing registrar never answers: the registry approves after its five days.
    registries_local.registry.transfer_auto_approve = dt.timedelta(seconds=0)
    assert transfers.transfers_run() == (
        "0 transfers requested, 0 completed, 0 failed or refused, 0 waiting"
    )  # asked again only after CHECK_EVERY
    later = timezone.now() + transfers.CHECK_EVERY + dt.timedelta(minutes=1)
    assert transfers.transfers_run(now=later).startswith("0 transfers requested, 1 completed")
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED


def test_a_rejection_fails_it_with_the_registry_words_and_one_mail(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    taken_elsewhere(registries_local, "blijftdaar.com")
    registration = transfer_queued(customer, "blijftdaar.com", consent=True)
    transfers.transfers_run()
    _losing_answers(registries_local, "reject", "blijftdaar.com")
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.FAILED
    assert "clientRejected" in registration.last_error
    assert not registration.can_retry
    assert not TransferCode.objects.exists()
    (mail,) = OutboxMessage.objects.filter(template="domains/email/transfer_failed")
    assert mail.dedupe_key == f"domains:transfer:{registration.pk}:failed"
    assert registries_local.registry.domains["blijftdaar.com"].sponsor == "other-registrar"


@pytest.mark.parametrize(
    ("domain", "code", "taken", "expected"),
    [
        ("fout.nl", "Wrong12345", True, "2202"),
        ("bestaatniet.nl", CODE, False, "2303"),
    ],
)
def test_the_registry_refusals_fail_it_once_with_its_own_message(
    personas: Personas,
    registries_local: epp_local.Running,
    domain: str,
    code: str,
    taken: bool,
    expected: str,
) -> None:
    customer = with_address(personas.customer_a)
    if taken:
        taken_elsewhere(registries_local, domain)
    registration = transfer_queued(customer, domain, code)
    assert "1 failed or refused" in transfers.transfers_run()
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.FAILED
    assert registration.last_error.startswith("SIDN: " + expected), registration.last_error
    assert code not in registration.last_error
    assert not TransferCode.objects.exists()
    assert OutboxMessage.objects.filter(template="domains/email/transfer_failed").count() == 1
    before = len(registries_local.registry.received)
    transfers.transfers_run(now=timezone.now() + dt.timedelta(hours=2))
    assert len(registries_local.registry.received) == before  # nothing sent again
    assert OutboxMessage.objects.filter(template="domains/email/transfer_failed").count() == 1


@pytest.mark.parametrize(
    ("language", "subject", "words"),
    [
        ("nl", "Je domeinnaam taal.nl is niet naar ons verhuisd", "verhuiscode"),
        ("en", "Your domain name taal.nl was not transferred to us", "transfer code"),
    ],
)
def test_the_failure_mail_is_clear_in_the_order_language(
    personas: Personas,
    registries_local: epp_local.Running,
    language: str,
    subject: str,
    words: str,
) -> None:
    customer = with_address(personas.customer_a)
    taken_elsewhere(registries_local, "taal.nl")
    transfer_queued(customer, "taal.nl", "Wrong12345", language=language)
    transfers.transfers_run()
    mail.outbox.clear()
    assert deliver_due(worker="test").sent == 1
    (sent,) = mail.outbox
    assert sent.subject == subject
    body = str(sent.body)
    assert words in body and "taal.nl" in body
    # The registry's code as a word: the random order number may hold the digits.
    assert "Wrong12345" not in body and not re.search(r"\b2202\b", body)


def test_a_com_transfer_without_consent_sends_nothing(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    taken_elsewhere(registries_local, "zonder.com")
    registration = transfer_queued(customer, "zonder.com")
    before = list(registries_local.registry.received)
    with pytest.raises(services.RegistrationRefused):
        transfers.transfer_request(registration=registration)
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REFUSED
    assert registries_local.registry.received == before
    assert not Disclosure.objects.filter(subject=customer.id).exists()


def test_a_crash_after_a_pending_request_does_not_send_it_twice(
    personas: Personas, registries_local: epp_local.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = with_address(personas.customer_a)
    taken_elsewhere(registries_local, "eenmaal.com")
    registration = transfer_queued(customer, "eenmaal.com", consent=True)

    def crash(_registration: DomainRegistration) -> None:
        raise SystemExit("killed")

    monkeypatch.setattr(transfers, "_after_request", crash)
    with pytest.raises(SystemExit):
        transfers.transfers_run()
    monkeypatch.undo()
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.PENDING
    later = timezone.now() + dt.timedelta(hours=1)  # after the lease
    assert transfers.transfers_run(now=later).startswith("1 transfers requested")
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.TRANSFER_PENDING
    assert _requests(registries_local) == ["Transfer pending for eenmaal.com"]  # one request


DRIVER = """
import os, signal
import django
django.setup()
from kluis.domains import transfers

def die(registration):
    os.kill(os.getpid(), signal.SIGKILL)

setattr(transfers, os.environ["KILL_MODE"], die)
print(transfers.transfers_run())
"""


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("point", ["_after_request", "_after_approval"])
def test_killed_after_the_registry_moved_it_the_rerun_completes_it_once(
    personas: Personas, registry_server: epp_local.Running, settings_reset: None, point: str
) -> None:
    customer = with_address(personas.customer_a)
    taken_elsewhere(registry_server, "gedood-verhuisd.nl")
    registration = transfer_queued(customer, "gedood-verhuisd.nl")
    result = _run(registry_server, point, driver=DRIVER)
    assert result.returncode == KILLED, result.stderr[-2000:]
    assert registry_server.registry.domains["gedood-verhuisd.nl"].sponsor == "kluis-sidn"
    registration.refresh_from_db()
    assert registration.status != DomainRegistration.Status.REGISTERED  # not committed

    outcome = _rerun_after_the_lease(registry_server, transfers.transfers_run)
    assert outcome == "0 transfers requested, 1 completed, 0 failed or refused, 0 waiting"
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED, registration.last_error
    assert _requests(registry_server) == ["Transfer serverApproved for gedood-verhuisd.nl"]
    sent = Disclosure.objects.filter(subject=customer.id)
    assert sorted("domain:" in d.reference for d in sent) == [False, True]
    assert not TransferCode.objects.exists()


def test_the_shop_takes_a_taken_name_with_its_code_and_delivery_transfers_it(
    personas: Personas, registries_local: epp_local.Running, client: Client
) -> None:
    from kluis.shop.cart import SESSION_KEY, cart_get
    from kluis.shop.catalogue import catalogue_load
    from kluis.shop.testing import order_of_cart

    catalogue_load()
    registries_local.registry.held_elsewhere("van-mij.nl", CODE)  # as `make run` seeds it
    translation.activate("nl")
    url = reverse("shop:cart-add-domain")

    page = client.post(url, {"label": "van-mij", "tld": "nl"}).content.decode()
    assert "Vul dan ook de verhuiscode van je huidige provider in." in page
    wrong = client.post(url, {"label": "van-mij", "tld": "nl", "auth_code": "te kort"})
    assert "Deze verhuiscode heeft niet de vorm die SIDN gebruikt." in wrong.content.decode()
    assert cart_get(client.session).is_empty

    response = client.post(url, {"label": "van-mij", "tld": "nl", "auth_code": CODE})
    assert response.url == reverse("shop:cart")  # type: ignore[attr-defined]
    (line,) = cart_get(client.session).lines
    assert line.is_transfer and line.domain == "van-mij.nl"
    assert CODE not in str(client.session[SESSION_KEY])  # sealed with the name
    assert "verhuizing naar ons" in client.get(reverse("shop:cart")).content.decode()

    customer = with_address(personas.customer_a)
    order = order_of_cart(cart_get(client.session), customer)
    assert CODE.encode() not in bytes(TransferCode.objects.get(line__order=order).sealed)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.IN_PROGRESS)
    order.refresh_from_db()
    (registration,) = services.registrations_queue(order=order)
    assert registration.kind == DomainRegistration.Kind.TRANSFER
    assert transfers.transfers_run().startswith("0 transfers requested, 1 completed")
    assert registries_local.registry.domains["van-mij.nl"].sponsor == "kluis-sidn"


def test_a_lock_left_by_the_old_registrar_waits_on_the_desk_until_it_is_lifted(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    taken_elsewhere(registries_local, "op-slot.com")
    registration = transfer_queued(customer, "op-slot.com", consent=True)
    transfers.transfers_run()
    record = registries_local.registry.domains["op-slot.com"]
    record.statuses.append("clientUpdateProhibited")
    losing = connect_and_login(endpoint_for(registries_local, "other-registrar", sidn=False))
    losing.domain_transfer(op="approve", name="op-slot.com")
    losing.logout()
    services.poll_messages_run()
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.TRANSFER_PENDING
    assert registration.last_error.startswith("Verisign: 2304"), registration.last_error

    record.statuses.remove("clientUpdateProhibited")
    later = timezone.now() + transfers.CHECK_EVERY + dt.timedelta(minutes=1)
    assert transfers.transfers_run(now=later).startswith("0 transfers requested, 1 completed")
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED
    assert registration.last_error == ""


def test_an_order_cancelled_while_its_transfer_waits_withdraws_the_request(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    taken_elsewhere(registries_local, "bedacht.com")
    registration = transfer_queued(customer, "bedacht.com", consent=True)
    transfers.transfers_run()
    Order.objects.filter(pk=registration.order_id).update(status=Order.Status.CANCELLED)
    assert "0 completed" in transfers.transfers_run()  # at once, not after the hour
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REFUSED
    assert "ingetrokken" in registration.last_error
    record = registries_local.registry.domains["bedacht.com"]
    assert record.transfer_to == "" and record.sponsor == "other-registrar"
    assert not TransferCode.objects.exists()
    assert _requests(registries_local)[-1] == "Transfer clientCancelled for bedacht.com"


# --- the transfer's price and period ----------------------------------------------------


def _expiry(running: epp_local.Running, name: str) -> dt.datetime:
    return dt.datetime.fromisoformat(
        running.registry.domains[name].expires.replace(".0Z", "+00:00")
    )


def test_a_transfer_is_sold_at_its_own_price_and_renews_at_the_registration_price(
    personas: Personas, registries_local: epp_local.Running, client: Client
) -> None:
    from kluis.billing.services import invoice_issue
    from kluis.shop.cart import cart_get
    from kluis.shop.catalogue import catalogue_load
    from kluis.shop.models import DomainExtension
    from kluis.shop.pricing import subscription_price_cents
    from kluis.shop.services import subscriptions_start
    from kluis.shop.testing import order_of_cart

    catalogue_load()
    DomainExtension.objects.filter(tld="nl").update(price_cents=995, transfer_price_cents=450)
    registries_local.registry.held_elsewhere("prijs-verhuis.nl", CODE)
    translation.activate("nl")
    client.post(reverse("shop:catalogue"), {})  # a session
    url = reverse("shop:cart-add-domain")
    client.post(url, {"label": "prijs-verhuis", "tld": "nl", "auth_code": CODE})
    client.post(url, {"label": "nieuw-naast-verhuis", "tld": "nl"})
    cart = cart_get(client.session)
    transfer, new = sorted(cart.lines, key=lambda line: not line.is_transfer)
    assert (transfer.price_cents, transfer.recurring_cents) == (450, 995)
    assert (new.price_cents, new.recurring_cents) == (995, 995)
    assert (cart.total_cents, cart.per_year_cents) == (450 + 995, 995 + 995)
    page = client.get(reverse("shop:cart")).content.decode()
    assert "voor de verhuizing (de eerste periode), daarna" in page
    catalogue = client.get(reverse("shop:catalogue")).content.decode()
    assert "Verhuizing naar ons" in catalogue and "eenmalig, de eerste periode" in catalogue

    customer = with_address(personas.customer_a)
    order = order_of_cart(cart, customer)
    moved = order.lines.get(transfer=True)
    assert (moved.price_cents, moved.renewal_price_cents) == (450, 995)
    assert moved.description == "Verhuizing van {domein}"
    assert order.lines.get(transfer=False).renewal_price_cents is None
    invoice = invoice_issue(order=order, issued_by=None)
    texts = sorted(line.description for line in invoice.lines.all())
    assert texts[0].startswith("Verhuizing van {domein}, eerste periode (1 jaar)")
    assert texts[1].startswith("{domein}, eerste periode")
    assert sorted(line.net_cents for line in invoice.lines.all()) == [450, 995]

    Order.objects.filter(pk=order.pk).update(status=Order.Status.DELIVERED)
    (first, second) = sorted(subscriptions_start(order=order), key=lambda s: not s.line.transfer)
    start, _end = first.next_period()
    assert subscription_price_cents(first, start) == 995  # the transfer price was once
    assert subscription_price_cents(second, start) == 995


def test_staff_set_the_transfer_price_of_an_extension(personas: Personas) -> None:
    from kluis.shop.catalogue import catalogue_load
    from kluis.shop.models import DomainExtension

    catalogue_load()
    com = DomainExtension.objects.get(tld="com")
    assert com.transfer_price_cents == com.price_cents  # a year, as a registration
    staff = Client()
    log_in(staff, personas.staff["admin"])
    url = reverse("shop_backoffice:extension", kwargs={"extension_id": com.pk})
    assert "Prijs van een verhuizing naar ons" in staff.get(url).content.decode()
    refused = staff.post(url, {"period": "year", "active": "on", "transfer_price": "-1"})
    assert refused.status_code == 400
    assert "Een prijs kan niet negatief zijn." in refused.content.decode()
    done = staff.post(
        url, {"period": "year", "active": "on", "transfer_price": "12.50"}, follow=True
    )
    assert "De extensie is bijgewerkt." in done.content.decode()
    com.refresh_from_db()
    assert com.transfer_price_cents == 1250
    listing = staff.get(reverse("shop_backoffice:catalogue")).content.decode()
    assert "verhuizing € 12,50" in listing


def test_a_gtld_transfer_adds_a_year_and_a_nl_transfer_keeps_its_term(
    personas: Personas, registries_local: epp_local.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kluis.domains.epp import commands

    sent: dict[str, int | None] = {}
    build = commands.domain_transfer

    def spy(*, op: str, name: str, auth_pw: str = "", years: int | None = None) -> object:
        if op == "request":
            sent[name] = years
        return build(op=op, name=name, auth_pw=auth_pw, years=years)

    monkeypatch.setattr(commands, "domain_transfer", spy)
    customer = with_address(personas.customer_a)
    registries_local.registry.held_elsewhere("jaar-erbij.com", CODE)
    registries_local.registry.held_elsewhere("zelfde-termijn.nl", CODE)
    com_before = _expiry(registries_local, "jaar-erbij.com")
    nl_before = _expiry(registries_local, "zelfde-termijn.nl")
    com = transfer_queued(customer, "jaar-erbij.com", consent=True)
    nl = transfer_queued(customer, "zelfde-termijn.nl")
    transfers.transfers_run()
    _losing_answers(registries_local, "approve", "jaar-erbij.com")
    com.refresh_from_db()
    nl.refresh_from_db()
    assert com.status == nl.status == DomainRegistration.Status.REGISTERED
    com_after = _expiry(registries_local, "jaar-erbij.com")
    assert com_after.year == com_before.year + 1
    assert com.expires_on == timezone.localdate(com_after)
    assert _expiry(registries_local, "zelfde-termijn.nl") == nl_before
    assert nl.expires_on == timezone.localdate(nl_before)
    assert sent == {"jaar-erbij.com": 1, "zelfde-termijn.nl": None}


def test_the_registry_refuses_a_period_where_a_transfer_extends_nothing(
    registries_local: epp_local.Running,
) -> None:
    from kluis.domains.epp.client import EppCommandFailed

    assert registries.REGISTRIES["sidn"].transfer_years is None
    assert registries.REGISTRIES["verisign"].transfer_years == 1
    taken_elsewhere(registries_local, "geen-periode.nl")
    ours = connect_and_login(endpoint_for(registries_local, "kluis-sidn", sidn=True))
    with pytest.raises(EppCommandFailed) as refused:
        ours.domain_transfer(op="request", name="geen-periode.nl", auth_pw=CODE, years=1)
    ours.logout()
    assert refused.value.code == 2306
    assert registries_local.registry.domains["geen-periode.nl"].sponsor == "other-registrar"
