"""A correction reaches the registry that holds the contact; a running domain holds
back an erasure."""

from __future__ import annotations

import pytest

from kluis.audit.models import Disclosure
from kluis.domains import epp_local, services
from kluis.domains.follow import contact_updates_run, contacts_cleanup_run
from kluis.domains.models import DomainRegistration, RegistryContact
from kluis.domains.tests.test_registration import queued, with_address
from kluis.policy.enforce import Actor
from kluis.rights.erasure import erasure_blockers
from kluis.rights.models import FollowUp
from kluis.rights.services import rectify
from kluis.testing import Personas

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_corrected_address_is_sent_to_the_registry_ledgered_and_closed(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    queued(customer, "verhuisd.nl")
    assert services.registrations_run() == "1 registered, 0 failed or refused, 0 waiting"
    handle = RegistryContact.objects.get(customer=customer, registry="sidn").handle
    ledgered = Disclosure.objects.filter(subject=customer.pk, recipient="sidn").count()

    # While the domain runs, the customer cannot be erased, and is told why.
    (blocker,) = [b for b in erasure_blockers(customer.pk) if b.key.startswith("domains.")]
    assert "verhuiscode" in blocker.next_nl

    rectify(
        customer=customer,
        changes={"address_street": "Prinsengracht 263"},
        by=Actor.subject(customer.pk),
    )
    follow_up = FollowUp.objects.get(subject=customer.pk, recipient="sidn")
    # The registry cannot be reached: the follow-up stays open, nothing is ledgered.
    registries_local.registry.faults.drop_before = "contact:update"
    assert contact_updates_run() == "0 contacts updated at registries, 1 follow-ups waiting"
    assert Disclosure.objects.filter(subject=customer.pk, recipient="sidn").count() == ledgered
    registries_local.registry.faults.drop_before = ""

    assert contact_updates_run() == "1 contacts updated at registries, 0 follow-ups waiting"
    contact = registries_local.registry.contacts[handle]
    assert "Prinsengracht 263" in repr(contact)
    follow_up.refresh_from_db()
    assert follow_up.done_at is not None
    latest = Disclosure.objects.filter(subject=customer.pk, recipient="sidn").latest("pk")
    assert latest.reference.startswith(f"follow-up:{follow_up.pk}")
    assert "user.contact.address" in latest.categories
    assert contact_updates_run() == "0 contacts updated at registries, 0 follow-ups waiting"


def test_a_contact_no_domain_needs_is_deleted_at_the_registry_and_made_again_when_needed(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    customer = with_address(personas.customer_a)
    registration = queued(customer, "eerst-mis.nl")
    registry = registries_local.registry
    # login, contact:create, host:check, host:create twice, contact:info, contact:create,
    # then the domain create is the 8th command: the registry refuses it.
    registry.faults.error_on_nth = 8
    assert services.registrations_run() == "0 registered, 1 failed or refused, 0 waiting"
    contact = RegistryContact.objects.get(customer=customer, registry="sidn")
    assert contact.handle in registry.contacts

    assert contacts_cleanup_run() == (
        "1 contacts deleted at registries, 0 still linked or unreachable"
    )
    assert contact.handle not in registry.contacts
    contact.refresh_from_db()
    assert contact.deleted_at is not None

    # Tried again: the contact is created anew, and the domain registered with it.
    services.registration_retry(registration=registration, by=personas.staff["orders"])
    assert services.registrations_run() == "1 registered, 0 failed or refused, 0 waiting"
    again = RegistryContact.objects.get(pk=contact.pk)
    assert again.deleted_at is None and again.handle in registry.contacts
    assert contacts_cleanup_run() == (
        "0 contacts deleted at registries, 0 still linked or unreachable"
    )

    # Its only domain moved away, the contact is still the holder there: 2305, it waits.
    DomainRegistration.objects.filter(pk=registration.pk).update(
        status=DomainRegistration.Status.TRANSFERRED
    )
    assert contacts_cleanup_run() == (
        "0 contacts deleted at registries, 1 still linked or unreachable"
    )
    assert contact.handle in registry.contacts
