"""A registration the registry turns down: one clear mail to the customer, and the desk."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from kluis.domains import epp_local, services
from kluis.domains.models import DomainRegistration
from kluis.domains.tests.conftest import taken_elsewhere
from kluis.domains.tests.test_registration import queued, with_address
from kluis.mail.delivery import deliver_due
from kluis.mail.models import OutboxMessage
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_name_taken_after_all_mails_the_customer_once_and_shows_on_the_desk(
    personas: Personas, registries_local: epp_local.Running, client: Client
) -> None:
    taken_elsewhere(registries_local, "al-weg.nl")
    customer = with_address(personas.customer_a)
    registration = queued(customer, "al-weg.nl")
    assert services.registrations_run() == "0 registered, 1 failed or refused, 0 waiting"
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.FAILED

    # Staff try again; it fails again, and the customer hears nothing new.
    services.registration_retry(registration=registration, by=personas.staff["orders"])
    assert services.registrations_run() == "0 registered, 1 failed or refused, 0 waiting"
    assert OutboxMessage.objects.filter(dedupe_key__startswith="domains:").count() == 1

    mail.outbox.clear()
    assert deliver_due(worker="test").sent == 1
    (sent,) = mail.outbox
    assert sent.subject == "Je domeinnaam al-weg.nl is niet geregistreerd"
    body = str(sent.body)
    assert "al-weg.nl" in body and "bij SIDN" in body
    assert "iemand anders had hem net eerder geregistreerd" in body
    # The registry's code is for the desk (as a word: an order number may hold the digits).
    assert not re.search(r"\b2302\b", body)

    log_in(client, personas.staff["orders"])
    page = client.get(reverse("domains_backoffice:desk")).content.decode()
    assert "SIDN: 2302 Object exists" in page and "klant gemaild" in page


def test_a_registry_that_stays_unreachable_is_flagged_and_mails_nobody(
    personas: Personas, registries_local: epp_local.Running, client: Client
) -> None:
    customer = with_address(personas.customer_a)
    registration = queued(customer, "wacht-even.nl")
    registries_local.registry.faults.drop_before = "login"
    for _ in range(3):
        assert services.registrations_run() == "0 registered, 0 failed or refused, 1 waiting"
    registration.refresh_from_db()
    assert (registration.status, registration.attempts) == ("pending", 3)
    assert not OutboxMessage.objects.filter(dedupe_key__startswith="domains:").exists()
    log_in(client, personas.staff["orders"])
    page = client.get(reverse("domains_backoffice:desk")).content.decode()
    assert "registry onbereikbaar" in page
