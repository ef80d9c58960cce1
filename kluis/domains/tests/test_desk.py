"""The domains desk: what failed, in the registry's words, and trying again."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from kluis.audit.models import AuditEntry
from kluis.domains.models import DomainRegistration
from kluis.domains.testing import failed_registration_kwargs
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_the_desk_shows_a_failure_with_the_registrys_own_words(
    client: Client, personas: Personas
) -> None:
    failed_registration_kwargs(personas)
    log_in(client, personas.staff["orders"])
    page = client.get(reverse("domains_backoffice:desk"))
    text = page.content.decode()
    assert page.status_code == 200
    # A list is no case: the name shows masked but for its extension; the order's page
    # (within its case) shows it in full.
    assert "SIDN: 2400 Command failed" in text and "\u2022" * 8 + ".nl" in text
    assert "alice-harness.nl" not in text
    assert "Opnieuw proberen" in text


def test_trying_again_puts_it_back_in_the_queue_and_is_audited(
    client: Client, personas: Personas
) -> None:
    kwargs = failed_registration_kwargs(personas)
    log_in(client, personas.staff["orders"])
    response = client.post(reverse("domains_backoffice:retry", kwargs=kwargs))
    assert response.status_code == 302
    registration = DomainRegistration.objects.get(pk=kwargs["registration_id"])
    assert registration.status == DomainRegistration.Status.PENDING
    assert AuditEntry.objects.filter(action="domains.registration_retried").count() == 1


def test_a_refusal_for_want_of_consent_cannot_be_tried_again(
    client: Client, personas: Personas
) -> None:
    kwargs = failed_registration_kwargs(personas)
    DomainRegistration.objects.filter(pk=kwargs["registration_id"]).update(
        status=DomainRegistration.Status.REFUSED
    )
    log_in(client, personas.staff["orders"])
    client.post(reverse("domains_backoffice:retry", kwargs=kwargs))
    registration = DomainRegistration.objects.get(pk=kwargs["registration_id"])
    assert registration.status == DomainRegistration.Status.REFUSED
    assert not AuditEntry.objects.filter(action="domains.registration_retried").exists()
