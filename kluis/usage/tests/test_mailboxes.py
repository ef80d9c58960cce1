"""Mailboxes of delivered packages with mail: added by the customer within the
package's number, under their own domain, sealed, and ended with the package."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import translation

from kluis.audit.models import AuditEntry
from kluis.shop.models import Subscription
from kluis.testing import log_in
from kluis.usage.ingest import ingest_batch
from kluis.usage.mailboxes import mailboxes_sync, packages_of
from kluis.usage.models import Mailbox, MailDay
from kluis.usage.testing import make_mail_package

from .lines import syslog

pytestmark = pytest.mark.django_db(databases="__all__")


def _received(day: dt.date, qid: str, to: str) -> list[str]:
    return [
        syslog(
            day, "qmgr", f"{qid}: from=<klant@elders.example>, size=5000, nrcpt=1 (queue active)"
        ),
        syslog(
            day,
            "lmtp",
            f"{qid}: to=<{to}>, relay=dovecot, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, "
            "status=sent (250 2.0.0 Saved)",
        ),
        syslog(day, "qmgr", f"{qid}: removed"),
    ]


def _add(client, package: Subscription, address: str):
    return client.post(
        reverse("usage_portal:mailbox-add", kwargs={"subscription_id": package.pk}),
        {"address": address},
    )


def test_the_customer_adds_mailboxes_within_the_package_sealed_and_counted(client, personas, today):
    translation.activate("nl")
    package = make_mail_package(personas.customer_a, "bakkerij-alice.nl")
    assert package.product is not None and package.product.mailboxes == 1
    log_in(client, personas.alice)
    page = client.get(reverse("usage_portal:mail")).content.decode()
    assert "0 van 1 mailbox in gebruik." in page

    response = _add(client, package, "  Info@Bakkerij-Alice.NL ")
    assert response.status_code == 302
    box = Mailbox.objects.get()
    assert box.subscription_id == package.pk and box.customer == personas.customer_a
    assert box.ended_at is None
    # Sealed: the address is not in the table in plain text, nor in the audit chain.
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM usage_mailbox")
        assert "bakkerij-alice" not in repr(cursor.fetchall()).lower()
    added = AuditEntry.objects.get(action="usage.mailbox_added")
    assert "bakkerij" not in added.payload.lower() and str(box.pk) in added.payload
    page = client.get(reverse("usage_portal:mail")).content.decode()
    assert "info@bakkerij-alice.nl" in page and "1 van 1 mailbox in gebruik." in page

    # Mail to it is counted; mail to an address that is no mailbox is not.
    ingest_batch(
        node="mx1",
        kind="postfix",
        batch_id="m1",
        lines=_received(today, "1A1A1A1A1A", "info@bakkerij-alice.nl")
        + _received(today, "2B2B2B2B2B", "verkoop@bakkerij-alice.nl"),
    )
    assert list(MailDay.objects.values_list("mailbox_id", "received")) == [(box.pk, 1)]

    # The package is full: a second address is refused, in Dutch, and nothing is made.
    response = _add(client, package, "verkoop@bakkerij-alice.nl")
    assert response.status_code == 400
    assert "Alle mailboxen van dit pakket zijn in gebruik" in response.content.decode()
    assert Mailbox.objects.count() == 1

    # Removing one makes room; the removed one keeps its counts but counts no more.
    client.post(reverse("usage_portal:mailbox-remove", kwargs={"mailbox_id": box.pk}))
    assert Mailbox.objects.get(pk=box.pk).ended_at is not None
    assert _add(client, package, "verkoop@bakkerij-alice.nl").status_code == 302
    ingest_batch(
        node="mx1",
        kind="postfix",
        batch_id="m2",
        lines=_received(today, "3C3C3C3C3C", "info@bakkerij-alice.nl"),
    )
    assert MailDay.objects.get(mailbox=box).received == 1
    assert MailDay.objects.count() == 1


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "Dit veld is verplicht."),
        ("geen adres", "Vul een e-mailadres in"),
        ("a@@bakkerij-alice.nl", "Vul een e-mailadres in"),
        ("info@", "Vul een e-mailadres in"),
        ("in fo@bakkerij-alice.nl", "Vul een e-mailadres in"),
        ("info@bakkerij alice.nl", "geen geldige domeinnaam"),
        ("x" * 300 + "@bakkerij-alice.nl", "Zorg dat deze waarde"),
        ("info@elders.example", "niet onder een domeinnaam"),
        ("info@bob-zijn-winkel.nl", "niet onder een domeinnaam"),  # Bob's domain
        ("info\x00@bakkerij-alice.nl", ""),
    ],
)
def test_bad_addresses_are_refused_in_dutch_and_nothing_is_made(client, personas, address, message):
    translation.activate("nl")
    package = make_mail_package(personas.customer_a, "bakkerij-alice.nl")
    make_mail_package(personas.customer_b, "bob-zijn-winkel.nl")
    log_in(client, personas.alice)
    response = _add(client, package, address)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Mailbox.objects.exists()


def test_a_package_of_another_customer_or_without_mail_takes_no_mailbox(client, personas):
    translation.activate("nl")
    bobs = make_mail_package(personas.customer_b, "bob-zijn-winkel.nl")
    make_mail_package(personas.customer_a, "bakkerij-alice.nl")
    log_in(client, personas.alice)
    assert _add(client, bobs, "info@bakkerij-alice.nl").status_code == 404
    # A domain subscription holds no mailbox either.
    domain = Subscription.objects.get(customer=personas.customer_a, kind="domain")
    response = _add(client, domain, "info@bakkerij-alice.nl")
    assert response.status_code == 400
    assert "Dit pakket heeft geen mailboxen (meer)." in response.content.decode()
    assert not Mailbox.objects.exists()


def test_the_same_address_runs_once_across_customers(client, personas):
    translation.activate("nl")
    first = make_mail_package(personas.customer_a, "bakkerij-alice.nl")
    second = make_mail_package(personas.customer_a, "bakkerij-alice.nl")
    log_in(client, personas.alice)
    assert _add(client, first, "info@bakkerij-alice.nl").status_code == 302
    response = _add(client, second, "INFO@bakkerij-alice.nl")
    assert (
        response.status_code == 400 and "Dit adres is al een mailbox." in response.content.decode()
    )


def test_bob_cannot_remove_alices_mailbox(client, personas):
    translation.activate("nl")
    package = make_mail_package(personas.customer_a, "bakkerij-alice.nl")
    log_in(client, personas.alice)
    _add(client, package, "info@bakkerij-alice.nl")
    box = Mailbox.objects.get()
    log_in(client, personas.bob)
    response = client.post(reverse("usage_portal:mailbox-remove", kwargs={"mailbox_id": box.pk}))
    assert response.status_code == 404
    box.refresh_from_db()
    assert box.ended_at is None


def test_mailboxes_end_with_their_package_and_then_count_nothing(client, personas, today):
    package = make_mail_package(personas.customer_a, "bakkerij-alice.nl")
    log_in(client, personas.alice)
    _add(client, package, "info@bakkerij-alice.nl")
    box = Mailbox.objects.get()
    last_day = today + dt.timedelta(days=3)
    Subscription.objects.filter(pk=package.pk).update(ends_on=last_day)

    assert mailboxes_sync(today=last_day) == 0  # it runs through its last day
    assert mailboxes_sync(today=last_day + dt.timedelta(days=1)) == 1
    box.refresh_from_db()
    assert box.ended_at is not None
    assert AuditEntry.objects.filter(action="usage.mailbox_ended").count() == 1
    assert mailboxes_sync(today=last_day + dt.timedelta(days=1)) == 0  # once
    assert packages_of(personas.customer_a, last_day + dt.timedelta(days=1)) == []

    ingest_batch(
        node="mx1",
        kind="postfix",
        batch_id="e1",
        lines=_received(today, "4D4D4D4D4D", "info@bakkerij-alice.nl"),
    )
    assert not MailDay.objects.exists()
