"""Registering an order's domains: ledger, consent, crashes, the registry's refusals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kluis.accounts.models import Customer
from kluis.audit.models import AuditEntry, Disclosure
from kluis.domains import epp_local, registries, services
from kluis.domains.epp.client import connect_and_login
from kluis.domains.models import DomainRegistration
from kluis.domains.services import RegistrationRefused, domain_register, registrations_queue
from kluis.domains.tests.conftest import endpoint_for, taken_elsewhere
from kluis.shop import documents
from kluis.shop.models import Acceptance, Order
from kluis.shop.testing import make_order
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def with_address(customer: Customer) -> Customer:
    customer.address_street = "Keizersgracht 1"
    customer.address_postcode = "1015CD"
    customer.address_city = "Amsterdam"
    customer.save()
    return customer


def queued(
    customer: Customer,
    domain: str,
    *,
    consent: bool = False,
    before_queue: Callable[[Order], object] | None = None,
) -> DomainRegistration:
    order = make_order(customer, status=Order.Status.IN_PROGRESS, domain=domain)
    if before_queue is not None:
        before_queue(order)
    if consent:
        order.non_eu_consent = True
        order.whois_notice_version = documents.current_version("whois_notice")
        order.save()
        doc = documents.current("whois_notice", "nl")
        Acceptance(
            customer=customer,
            order=order,
            document=Acceptance.Document.WHOIS_NOTICE,
            version=doc.version,
            language="nl",
            text_sha256=doc.sha256,
            ip_address="192.0.2.10",
        ).save(force_insert=True)
    (registration,) = registrations_queue(order=order)
    return registration


def test_a_nl_domain_is_registered_with_its_expiry_and_both_sends_are_ledgered(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    registration = queued(customer, "alice-de-vries.nl")
    done = domain_register(registration=registration)
    assert done.status == DomainRegistration.Status.REGISTERED, done.last_error
    today = timezone.localdate()
    assert done.expires_on == today.replace(year=today.year + 1)
    at_registry = registries_local.registry.domains["alice-de-vries.nl"]
    assert at_registry.registrant == f"KLS-{customer.number}"
    assert at_registry.nameservers == ["ns1.winkeltjes.net", "ns2.winkeltjes.net"]
    contact = registries_local.registry.contacts[f"KLS-{customer.number}"]
    assert contact.name == "Alice de Vries" and contact.legal_form == "PERSOON"
    assert contact.voice == "+31.201234567"
    sent = list(Disclosure.objects.filter(subject=customer.id).order_by("at"))
    assert [d.recipient for d in sent] == ["sidn", "sidn"]
    assert sent[1].reference.endswith("domain:alice-de-vries.nl")
    assert "user.contact.address" in sent[0].categories
    assert AuditEntry.objects.filter(action="vault.reveal", subject=customer.id).exists()


def test_a_second_domain_reuses_the_contact_and_sends_no_contact_again(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    domain_register(registration=queued(customer, "een.nl"))
    domain_register(registration=queued(customer, "twee.nl"))
    assert registries_local.registry.received.count("contact:create") == 2  # hers + ours
    assert Disclosure.objects.filter(subject=customer.id).count() == 3


def test_a_com_domain_without_recorded_consent_is_refused_before_anything_is_sent(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    registration = queued(customer, "alice.com")
    with pytest.raises(RegistrationRefused):
        domain_register(registration=registration)
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REFUSED
    assert "toestemming" in registration.last_error
    assert registries_local.registry.received == []
    assert not Disclosure.objects.filter(subject=customer.id).exists()


def test_the_consent_flag_alone_without_the_accepted_notice_is_not_consent(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    registration = queued(customer, "alice.com")
    Order.objects.filter(pk=registration.order_id).update(
        non_eu_consent=True, whois_notice_version=documents.current_version("whois_notice")
    )
    registration.refresh_from_db()
    with pytest.raises(RegistrationRefused):
        domain_register(registration=registration)
    assert registries_local.registry.received == []


def test_a_com_domain_with_consent_is_registered_and_the_ledger_names_the_consent(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    done = domain_register(registration=queued(customer, "alice.com", consent=True))
    assert done.status == DomainRegistration.Status.REGISTERED
    sent = Disclosure.objects.filter(subject=customer.id, recipient="verisign")
    assert sent.count() == 2
    assert all("acceptance:" in d.reference for d in sent)


def test_a_crash_between_the_registrys_yes_and_our_commit_registers_once(
    personas: Personas, registries_local: epp_local.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = with_address(personas.customer_a)
    registration = queued(customer, "crash.nl")

    def crash(_: DomainRegistration) -> None:
        raise SystemExit("killed after the registry accepted the create")

    monkeypatch.setattr(services, "_after_create", crash)
    with pytest.raises(SystemExit):
        domain_register(registration=registration)
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.PENDING
    monkeypatch.undo()

    done = domain_register(registration=registration)
    assert done.status == DomainRegistration.Status.REGISTERED
    assert done.expires_on is not None
    assert list(registries_local.registry.domains) == ["crash.nl"]
    assert registries_local.registry.received.count("domain:create") == 2  # 2nd: 2302
    domain_sends = [
        d for d in Disclosure.objects.filter(subject=customer.id) if "domain:" in d.reference
    ]
    assert len(domain_sends) == 1


def test_a_dropped_connection_mid_create_leaves_it_pending_and_the_next_run_completes(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    registration = queued(customer, "gevallen.nl")
    registries_local.registry.faults.drop_after = "domain:create"
    outcome = services.registrations_run()
    assert outcome == "0 registered, 0 failed or refused, 1 waiting"
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.PENDING
    assert registration.attempts == 1
    registries_local.registry.faults.drop_after = ""
    assert services.registrations_run() == "1 registered, 0 failed or refused, 0 waiting"
    assert list(registries_local.registry.domains) == ["gevallen.nl"]


def test_a_domain_taken_by_another_registrar_fails_with_the_registrys_own_words(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    taken_elsewhere(registries_local, "bezet.nl")
    customer = with_address(personas.customer_a)
    done = domain_register(registration=queued(customer, "bezet.nl"))
    assert done.status == DomainRegistration.Status.FAILED
    assert "2302 Object exists" in done.last_error
    assert registries_local.registry.domains["bezet.nl"].sponsor == "other-registrar"


def test_an_error_2400_from_the_registry_fails_the_registration_with_its_message(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    registration = queued(customer, "storing.nl")
    # login, contact:create, host:check, host:create twice, contact:info, contact:create,
    # then the domain create is the 8th command.
    registries_local.registry.faults.error_on_nth = 8
    done = domain_register(registration=registration)
    assert registries_local.registry.received[7] == "domain:create"
    assert done.status == DomainRegistration.Status.FAILED
    assert "2400" in done.last_error and "injected fault" in done.last_error


def test_missing_contact_data_fails_before_anything_is_sent(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration = queued(personas.customer_b, "bob.nl")  # no address, no phone
    with pytest.raises(RegistrationRefused):
        domain_register(registration=registration)
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.FAILED
    assert "city" in registration.last_error
    assert registries_local.registry.received == []


def test_moving_an_order_to_in_behandeling_queues_its_domains(personas: Personas) -> None:
    from kluis.shop.services import order_move

    order = make_order(personas.customer_a, status=Order.Status.PAID, domain="vers.nl")
    order_move(order=order, to=Order.Status.IN_PROGRESS, by=personas.staff["orders"])
    registration = DomainRegistration.objects.get(order=order)
    assert registration.registry == "sidn" and registration.status == "pending"


def test_every_registry_is_a_declared_recipient_with_its_location() -> None:
    from kluis.policy.loader import current_policy

    policy = current_policy()
    for registry in registries.REGISTRIES.values():
        recipient = policy.recipients[registry.recipient]
        assert "domain_registration" in recipient.purposes
        assert (recipient.location == "non-EU") == registry.outside_eu, registry.key
        assert (recipient.requires == "consent") == registry.outside_eu, registry.key


def test_my_data_names_sidn_and_verisign_with_what_they_received(
    client: Client, personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    domain_register(registration=queued(customer, "alice.nl"))
    domain_register(registration=queued(customer, "alice.com", consent=True))
    log_in(client, personas.alice)
    page = client.get(reverse("portal:my-data"))
    text = page.content.decode()
    assert "Stichting Internet Domeinregistratie Nederland (SIDN)" in text
    assert "VeriSign, Inc." in text
    disclosures = page.context["data"].disclosures
    assert len(disclosures) == 4
    # Each send names the registry itself, never a registrar platform.
    from kluis.audit.models import Disclosure

    sent_to = set(Disclosure.objects.values_list("recipient", flat=True))
    assert sent_to == {"sidn", "verisign"}


def test_poll_messages_are_kept_once_and_acknowledged(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    from kluis.domains.models import PollMessage

    customer = with_address(personas.customer_a)
    domain_register(registration=queued(customer, "weg.nl"))
    # Another registrar takes the domain with its token: SIDN tells us by poll.
    token = registries_local.registry.domains["weg.nl"].auth_pw
    other = connect_and_login(endpoint_for(registries_local, "other-registrar", sidn=False))
    other.domain_transfer(op="request", name="weg.nl", auth_pw=token)
    other.logout()
    assert services.poll_messages_run() == "1 poll messages"
    (message,) = PollMessage.objects.all()
    assert message.registry == "sidn" and "weg.nl" in message.text
    assert registries_local.registry.polls["kluis-sidn"] == []  # acknowledged
    assert services.poll_messages_run() == "0 poll messages"
    assert PollMessage.objects.count() == 1


def test_a_registration_of_an_order_cancelled_meanwhile_sends_nothing(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    registration = queued(customer, "toch-niet.nl")
    Order.objects.filter(pk=registration.order_id).update(status=Order.Status.CANCELLED)
    assert services.registrations_run() == "0 registered, 1 failed or refused, 0 waiting"
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REFUSED
    assert "geannuleerd" in registration.last_error
    assert registries_local.registry.received == []
    assert not AuditEntry.objects.filter(action="vault.reveal", subject=customer.id).exists()


def test_a_registry_without_reusable_contacts_gets_a_contact_per_domain(
    personas: Personas, registries_local: epp_local.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    sidn = dataclasses.replace(registries.REGISTRIES["sidn"], contact_reusable=False)
    # One dict, imported by name into services as well.
    monkeypatch.setitem(registries.REGISTRIES, "sidn", sidn)
    customer = with_address(personas.customer_a)
    first = domain_register(registration=queued(customer, "een.nl"))
    second = domain_register(registration=queued(customer, "twee.nl"))
    handles = {registries_local.registry.domains[n].registrant for n in ("een.nl", "twee.nl")}
    assert len(handles) == 2
    assert first.contact != second.contact


def test_a_registrys_expiry_instant_is_recorded_as_our_calendar_date() -> None:
    """exDate is an instant (UTC, with or without fraction, or naive): 23:30Z on
    31 December is 1 January in Amsterdam, so the expiry lands in the right year."""
    from kluis.domains.epp.responses import _datetime
    from kluis.domains.services import _local_date

    for text in ("2027-12-31T23:30:00.0Z", "2027-12-31T23:30:00Z", "2027-12-31T23:30:00"):
        moment = _datetime(text)
        assert moment is not None, text
        assert _local_date(moment) == dt.date(2028, 1, 1), text
    summer = _datetime("2027-06-30T21:59:59Z")
    assert summer is not None and _local_date(summer) == dt.date(2027, 6, 30)


@pytest.mark.parametrize("flush_every", [1, 50])
def test_a_run_sends_a_customers_contact_once_and_writes_records_with_their_ledger(
    personas: Personas,
    registries_local: epp_local.Running,
    monkeypatch: pytest.MonkeyPatch,
    flush_every: int,
) -> None:
    monkeypatch.setattr(services, "FLUSH_EVERY", flush_every)
    alice = with_address(personas.customer_a)
    bob = personas.customer_b
    bob.phone = "+31201234568"
    bob = with_address(bob)
    for customer, name in ((alice, "alice-een.nl"), (alice, "alice-twee.nl"), (bob, "bob.nl")):
        queued(customer, name)
    assert services.registrations_run() == "3 registered, 0 failed or refused, 0 waiting"
    assert sorted(registries_local.registry.domains) == ["alice-een.nl", "alice-twee.nl", "bob.nl"]
    # Alice's contact went once, and her second domain names the same handle.
    assert registries_local.registry.received.count("contact:create") == 3  # 2 + our own
    handles = {
        registries_local.registry.domains[n].registrant for n in ("alice-een.nl", "alice-twee.nl")
    }
    assert handles == {f"KLS-{alice.number}"}
    for customer, domains in ((alice, 2), (bob, 1)):
        sent = list(Disclosure.objects.filter(subject=customer.id, recipient="sidn"))
        assert sorted("domain:" in d.reference for d in sent) == [False] + [True] * domains
    # Every record is complete, with its contact and expiry, and one reveal of the names.
    for registration in DomainRegistration.objects.all():
        assert registration.status == DomainRegistration.Status.REGISTERED
        assert registration.contact is not None and registration.expires_on is not None
    names_revealed = AuditEntry.objects.filter(action="vault.reveal").count()
    assert names_revealed == 2  # the contacts once, the domain names once


@pytest.mark.parametrize("same_customer", [True, False], ids=["one-customer", "two-customers"])
def test_a_run_stopped_by_an_error_still_writes_what_the_registry_accepted(
    personas: Personas,
    registries_local: epp_local.Running,
    monkeypatch: pytest.MonkeyPatch,
    same_customer: bool,
) -> None:
    alice = with_address(personas.customer_a)
    bob = personas.customer_b
    bob.phone = "+31201234568"
    bob = with_address(bob)
    # With two customers the first is still in flight on its session when the second
    # is prepared: its answer is read before the run stops.
    first, second = queued(alice, "eerst.nl"), queued(alice if same_customer else bob, "daarna.nl")
    real = services._preflight

    def preflight(registration: DomainRegistration, *args: object) -> object:
        if registration == second:
            raise RuntimeError("a bug in the second one")
        return real(registration, *args)

    monkeypatch.setattr(services, "_preflight", preflight)
    with pytest.raises(RuntimeError):
        services.registrations_run()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == DomainRegistration.Status.REGISTERED
    assert second.status == DomainRegistration.Status.PENDING
    assert "daarna.nl" not in registries_local.registry.domains
    assert Disclosure.objects.filter(reference__endswith="domain:eerst.nl").count() == 1


def test_a_run_sends_over_several_sessions_within_the_registrys_limit(
    registries_local: epp_local.Running,
) -> None:
    from kluis.testing import make_customer

    # The local registry allows 3 sessions, the pool would take 4: the refused login
    # (2502) leaves the run with the sessions it has.
    customers = []
    for i in range(6):
        user = make_customer(
            name=f"Klant {i}", email=f"klant-{i}@example.nl", phone=f"+3120123450{i}"
        )
        assert user.customer is not None
        customers.append(with_address(user.customer))
        queued(user.customer, f"klant-{i}.nl")
    assert services.registrations_run() == "6 registered, 0 failed or refused, 0 waiting"
    assert sorted(registries_local.registry.domains) == [f"klant-{i}.nl" for i in range(6)]
    # Three sessions at once, and the fourth login refused (2502): not tried again.
    assert registries_local.registry.received.count("other:login") == 4
    assert registries_local.registry.received.count("domain:create") == 6
    for customer in customers:
        sent = list(Disclosure.objects.filter(subject=customer.id, recipient="sidn"))
        assert sorted("domain:" in d.reference for d in sent) == [False, True]
