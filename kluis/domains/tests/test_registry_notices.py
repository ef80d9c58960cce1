"""A registry's poll messages other than transfers, against the local registry: a domain
the registry deleted ends here (subscription, one mail, the desk), a new expiry date is
recorded, and a message about nothing of ours is kept and shown as before."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from kluis.audit.models import AuditEntry
from kluis.domains import epp_local, notices, services
from kluis.domains.models import DomainRegistration, PollMessage
from kluis.domains.tests.test_renewals import _registered_with_subscription
from kluis.mail.delivery import deliver_due
from kluis.mail.models import OutboxMessage
from kluis.shop.models import Subscription
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_domain_the_registry_deleted_ends_here_once_with_one_mail_and_on_the_desk(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration = _registered_with_subscription(personas, "door-registry-weg.nl")
    keeps = _registered_with_subscription(personas, "blijft-staan.nl")
    registries_local.registry.registry_delete("door-registry-weg.nl")

    assert services.poll_messages_run() == "1 poll messages"
    registration.refresh_from_db()
    keeps.refresh_from_db()
    assert registration.status == DomainRegistration.Status.DELETED
    assert registration.end_reason == DomainRegistration.EndReason.REGISTRY
    assert "SIDN heeft de domeinnaam opgeheven" in registration.last_error
    assert keeps.status == DomainRegistration.Status.REGISTERED
    subscription = Subscription.objects.get(line=registration.line)
    assert subscription.ends_on == timezone.localdate()
    assert Subscription.objects.get(line=keeps.line).ends_on is None
    mails = OutboxMessage.objects.filter(template=notices.DELETED_BY_REGISTRY)
    assert mails.count() == 1
    message = PollMessage.objects.get()
    assert message.outcome.startswith("opgeheven door de registry")
    assert AuditEntry.objects.filter(action="domains.deleted").count() == 1

    # The registry offers the same message again (a crash before our ack): nothing twice.
    registries_local.registry.polls.setdefault("kluis-sidn", []).append(
        epp_local.PollMessage(
            message.message_id, message.text, message.text, "door-registry-weg.nl", pa_result="1"
        )
    )
    assert services.poll_messages_run() == "1 poll messages"
    assert mails.count() == 1
    assert PollMessage.objects.count() == 1
    assert AuditEntry.objects.filter(action="domains.deleted").count() == 1

    deliver_due(worker="test")
    (sent,) = [m for m in mail.outbox if "opgeheven door SIDN" in m.subject]
    assert "door-registry-weg.nl" in sent.subject
    assert "Dat besluit nam de registry zelf, niet wij." in str(sent.body)

    translation.activate("nl")
    staff = Client()
    log_in(staff, personas.staff["orders"])
    desk = staff.get(reverse("domains_backoffice:desk")).content.decode()
    assert "door de registry opgeheven" in desk
    assert "Domain door-registry-weg.nl deleted by the registry" in desk


def test_a_new_expiry_date_from_the_registry_is_recorded(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration = _registered_with_subscription(personas, "nieuwe-datum.nl")
    assert registration.expires_on is not None
    later = registration.expires_on + dt.timedelta(days=365)
    registries_local.registry.registry_set_expiry("nieuwe-datum.nl", later)

    assert services.poll_messages_run() == "1 poll messages"
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED
    assert registration.expires_on == later
    assert PollMessage.objects.get().outcome == f"vervaldatum bijgewerkt naar {later}"
    assert AuditEntry.objects.filter(action="domains.expiry_changed").count() == 1
    assert not OutboxMessage.objects.filter(template=notices.DELETED_BY_REGISTRY).exists()


def test_a_message_about_nothing_of_ours_is_kept_shown_and_acknowledged(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration = _registered_with_subscription(personas, "gewoon-hier.nl")
    with registries_local.registry.lock:
        registries_local.registry.notice("kluis-sidn", "Scheduled maintenance on Sunday")
        registries_local.registry.notice(
            "kluis-sidn", "Pending create done", domain="niet-van-ons.nl", pa_result="1"
        )
    assert services.poll_messages_run() == "2 poll messages"
    assert services.poll_messages_run() == "0 poll messages"  # acknowledged
    assert sorted(PollMessage.objects.values_list("text", "outcome")) == [
        ("Pending create done", ""),
        ("Scheduled maintenance on Sunday", ""),
    ]
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED
    assert not OutboxMessage.objects.filter(template=notices.DELETED_BY_REGISTRY).exists()
