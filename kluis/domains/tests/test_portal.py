"""The customer's domains in the portal: the list, nameservers and the auth code."""

from __future__ import annotations

import secrets
import string

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from kluis.audit.models import AuditEntry
from kluis.domains import epp_local, services
from kluis.domains.registries import REGISTRIES, auth_code_new
from kluis.domains.tests.test_registration import queued, with_address
from kluis.formats import long_date
from kluis.mail.delivery import deliver_due
from kluis.mail.models import OutboxMessage
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_the_customer_sees_changes_nameservers_and_gets_the_auth_code(
    personas: Personas, registries_local: epp_local.Running, client: Client
) -> None:
    customer = with_address(personas.customer_a)
    registration = queued(customer, "mijn-winkel.nl")
    assert services.registrations_run() == "1 registered, 0 failed or refused, 0 waiting"
    registration.refresh_from_db()
    registry = registries_local.registry
    log_in(client, personas.alice)

    page = client.get(reverse("domains_portal:domains")).content.decode()
    assert "mijn-winkel.nl" in page and "SIDN" in page
    assert registration.expires_on is not None
    assert long_date(registration.expires_on, "nl") in page
    assert "ns1.winkeltjes.net, ns2.winkeltjes.net" in page

    url = reverse("domains_portal:nameservers", kwargs={"registration_id": registration.pk})
    # Bad input: one server only, or a name that is no host name; nothing is sent.
    sent_before = len(registry.received)
    page = client.post(url, {"nameservers": "ns1.voorbeeld.nl"}).content.decode()
    assert "Geef minstens 2 en hoogstens 13 verschillende naamservers." in page
    page = client.post(url, {"nameservers": "ns1.voorbeeld.nl\n-fout-"}).content.decode()
    assert "-fout- is geen geldige naam van een naamserver." in page
    assert len(registry.received) == sent_before

    response = client.post(url, {"nameservers": "ns1.voorbeeld.nl\nns2.voorbeeld.nl"})
    assert response.status_code == 302
    record = registry.domains["mijn-winkel.nl"]
    assert record.nameservers == ["ns1.voorbeeld.nl", "ns2.voorbeeld.nl"]
    registration.refresh_from_db()
    assert registration.nameservers == ["ns1.voorbeeld.nl", "ns2.voorbeeld.nl"]
    assert AuditEntry.objects.filter(action="domains.nameservers_changed").count() == 1

    # The registry refuses (a status that prohibits updates): its words, nothing stored.
    record.statuses.append("clientUpdateProhibited")
    refused = client.post(url, {"nameservers": "ns3.voorbeeld.nl\nns4.voorbeeld.nl"})
    assert b"SIDN weigerde de wijziging" in refused.content and b"2304" in refused.content
    registration.refresh_from_db()
    assert registration.nameservers == ["ns1.voorbeeld.nl", "ns2.voorbeeld.nl"]
    record.statuses.remove("clientUpdateProhibited")

    old_code = record.auth_pw
    assert REGISTRIES["sidn"].auth_code.fullmatch(old_code)  # set at create, in its format
    code_url = reverse("domains_portal:auth-code", kwargs={"registration_id": registration.pk})
    assert client.post(code_url).status_code == 302
    assert client.post(code_url).status_code == 302  # within the hour: one mail
    new_code = record.auth_pw
    assert new_code != old_code and REGISTRIES["sidn"].auth_code.fullmatch(new_code)
    assert OutboxMessage.objects.filter(dedupe_key__startswith="domains:authcode:").count() == 1
    mail.outbox.clear()
    assert deliver_due(worker="test").sent == 1
    (sent,) = mail.outbox
    assert sent.to == ["alice@example.nl"]  # the account's own address
    assert new_code in str(sent.body) and "mijn-winkel.nl" in sent.subject

    # Bob finds none of it.
    other = Client()
    log_in(other, personas.bob)
    detail = reverse("domains_portal:domain", kwargs={"registration_id": registration.pk})
    assert other.get(detail).status_code == 404
    assert "mijn-winkel.nl" not in other.get(reverse("domains_portal:domains")).content.decode()


def test_every_registrys_auth_code_format_gets_a_code_that_fits() -> None:
    for registry in REGISTRIES.values():
        assert registry.auth_code.fullmatch(auth_code_new(registry)), registry.key


def test_an_auth_code_draws_again_for_a_byte_that_would_favour_some_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kluis.domains import registries

    alnum = string.ascii_letters + string.digits  # 62: bytes from 248 on are drawn again
    reads = iter([bytes([255, 248, 0, 61]), bytes([62, 247])])
    monkeypatch.setattr(secrets, "token_bytes", lambda n: next(reads))
    assert registries._drawn(alnum, 4) == "a9a9"
