"""A domain moved to another registrar: the registry's poll message marks it moved."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from kluis.audit.models import AuditEntry
from kluis.domains import epp_local, services
from kluis.domains.epp.client import connect_and_login
from kluis.domains.models import DomainRegistration, PollMessage
from kluis.domains.tests.conftest import endpoint_for
from kluis.domains.tests.test_registration import queued, with_address
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_transfer_away_is_read_from_the_poll_queue_once_and_shown(
    personas: Personas, registries_local: epp_local.Running, client: Client
) -> None:
    customer = with_address(personas.customer_a)
    registration = queued(customer, "gaat-weg.nl")
    keeps = queued(customer, "blijft.nl")
    assert services.registrations_run() == "2 registered, 0 failed or refused, 0 waiting"
    code = registries_local.registry.domains["gaat-weg.nl"].auth_pw

    gaining = connect_and_login(endpoint_for(registries_local, "other-registrar", sidn=False))
    gaining.domain_transfer(op="request", name="gaat-weg.nl", auth_pw=code)
    gaining.logout()

    assert services.poll_messages_run() == "1 poll messages"
    assert services.poll_messages_run() == "0 poll messages"
    registration.refresh_from_db()
    keeps.refresh_from_db()
    assert registration.status == DomainRegistration.Status.TRANSFERRED
    assert keeps.status == DomainRegistration.Status.REGISTERED
    assert PollMessage.objects.get().text == "Transfer serverApproved for gaat-weg.nl"
    assert AuditEntry.objects.filter(action="domains.transferred_away").count() == 1

    staff = Client()
    log_in(staff, personas.staff["orders"])
    desk = staff.get(reverse("domains_backoffice:desk")).content.decode()
    assert "verhuisd naar een andere provider" in desk

    log_in(client, personas.alice)
    page = client.get(reverse("domains_portal:domains")).content.decode()
    assert "verhuisd naar een andere provider" in page
    detail = reverse("domains_portal:domain", kwargs={"registration_id": registration.pk})
    assert client.get(detail).status_code == 404  # nothing left to change here
