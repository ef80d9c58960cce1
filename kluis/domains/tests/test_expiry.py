"""An unpaid domain is not renewed and is deleted at the end of its term, with notice;
a payment in time cancels it. Against the local registry, with a crash and a refusal."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from kluis.audit.models import AuditEntry
from kluis.billing.models import Invoice
from kluis.billing.renewals import renewal_invoice_issue
from kluis.billing.settlement import invoice_paid
from kluis.domains import epp_local, expiry, renewals, transfers
from kluis.domains.follow import contacts_cleanup_run
from kluis.domains.models import DomainRegistration, DomainRenewal
from kluis.domains.tests.conftest import taken_elsewhere
from kluis.domains.tests.test_registration import with_address
from kluis.domains.tests.test_renewals import _registered_with_subscription
from kluis.domains.tests.test_transfer_in import transfer_queued
from kluis.mail.delivery import deliver_due
from kluis.mail.models import OutboxMessage
from kluis.shop.models import Order, Subscription
from kluis.shop.services import subscriptions_start
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _unpaid_invoice(personas: Personas, registration: DomainRegistration) -> Invoice:
    assert registration.expires_on is not None
    invoice = renewal_invoice_issue(
        customer=personas.customer_a, today=registration.expires_on - dt.timedelta(days=10)
    )
    assert invoice is not None
    return invoice


def _mails(template: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(template=template).order_by("created_at"))


def test_an_unpaid_domain_gets_two_notices_then_is_deleted_once_and_its_contact_follows(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration = _registered_with_subscription(personas, "niet-betaald.nl")
    expires = registration.expires_on
    assert expires is not None
    invoice = _unpaid_invoice(personas, registration)
    end = expiry.end_day(registration)  # .nl: before the expiry, as SIDN renews by itself

    days = dt.timedelta(days=1)
    assert expiry.expiry_run(today=end - 20 * days).startswith("0 notices")
    assert expiry.expiry_run(today=end - 14 * days).startswith("1 notices")
    assert expiry.expiry_run(today=end - 14 * days).startswith("0 notices")  # once
    assert expiry.expiry_run(today=end - 10 * days).startswith("0 notices")
    assert expiry.expiry_run(today=end - 3 * days).startswith("1 notices")
    assert expiry.expiry_run(today=end - 1 * days) == ("0 notices, 0 deleted, 0 refused, 0 waiting")
    assert len(_mails(expiry.NOTICE)) == 2
    assert "niet-betaald.nl" in registries_local.registry.domains  # not before its end

    assert expiry.expiry_run(today=end) == "0 notices, 1 deleted, 0 refused, 0 waiting"
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.DELETED
    # In SIDN's quarantine: deleted, still restorable by us (kluis/domains/restore.py).
    assert registries_local.registry.domains["niet-betaald.nl"].statuses == ["pendingDelete"]
    assert registries_local.registry.received.count("domain:delete") == 1
    subscription = Subscription.objects.get(line=registration.line)
    assert subscription.ends_on == expires - days
    invoice.refresh_from_db()
    assert invoice.credit_notes.exists()  # the unpaid new term is credited
    assert len(_mails(expiry.DELETED)) == 1
    assert AuditEntry.objects.filter(action="domains.deleted").count() == 1

    # Run again: nothing more is sent or mailed.
    assert expiry.expiry_run(today=end + days) == "0 notices, 0 deleted, 0 refused, 0 waiting"
    assert registries_local.registry.received.count("domain:delete") == 1
    assert len(_mails(expiry.DELETED)) == 1
    # The holder's contact is deleted at the registry: no domain needs it any more.
    assert registration.contact is not None
    handle = registration.contact.handle
    assert handle in registries_local.registry.contacts
    # Not while the name is in SIDN's quarantine (it may be restored with its contacts;
    # the registry refuses, 2305), once the quarantine is over.
    assert contacts_cleanup_run() == (
        "0 contacts deleted at registries, 1 still linked or unreachable"
    )
    registries_local.registry.clock = lambda: timezone.now() + dt.timedelta(days=41)
    assert contacts_cleanup_run().startswith("1 contacts deleted")
    assert handle not in registries_local.registry.contacts


def test_the_mails_say_the_date_in_dutch_and_english(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration = _registered_with_subscription(personas, "bericht.nl")
    end = expiry.end_day(registration)  # .nl: cancelled before its expiry
    expiry.expiry_run(today=end - dt.timedelta(days=3))
    mail.outbox.clear()
    assert deliver_due(worker="test").sent == 1
    (notice,) = mail.outbox
    translation.activate("nl")
    from kluis.formats import long_date

    day = long_date(end, "nl")
    assert notice.subject == (
        f"Je domeinnaam bericht.nl wordt op {day} opgeheven als de verlenging niet betaald is"
    )
    assert "Betaal dan vóór" in str(notice.body)

    registration.order.language = "en"
    registration.order.save(update_fields=["language"])
    expiry.expiry_run(today=end)
    mail.outbox.clear()
    assert deliver_due(worker="test").sent == 1
    (gone,) = mail.outbox
    assert gone.subject == "Your domain name bericht.nl has been deleted"
    assert long_date(end, "en") in str(gone.body)


def test_a_payment_before_the_end_cancels_the_deletion(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration = _registered_with_subscription(personas, "net-op-tijd.eu")
    expires = registration.expires_on
    assert expires is not None
    invoice = _unpaid_invoice(personas, registration)
    expiry.expiry_run(today=expires - dt.timedelta(days=14))
    assert len(_mails(expiry.NOTICE)) == 1

    invoice_paid(invoice)
    assert expiry.expiry_run(today=expires - dt.timedelta(days=3)).startswith("0 notices")
    assert expiry.expiry_run(today=expires) == "0 notices, 0 deleted, 0 refused, 0 waiting"
    assert "net-op-tijd.eu" in registries_local.registry.domains
    assert renewals.renewals_run() == "1 renewed, 0 failed, 0 waiting"
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED
    assert registration.expires_on is not None and registration.expires_on > expires
    assert len(_mails(expiry.NOTICE)) == 1


def test_the_desk_lists_what_ends_unpaid_with_the_notices_sent(
    personas: Personas, registries_local: epp_local.Running, client: Client
) -> None:
    registration = _registered_with_subscription(personas, "bijna-weg.nl")
    today = timezone.localdate()
    DomainRegistration.objects.filter(pk=registration.pk).update(
        expires_on=today + dt.timedelta(days=10)
    )
    assert expiry.expiry_run(today=today).startswith("1 notices")
    translation.activate("nl")
    log_in(client, personas.staff["orders"])
    desk = client.get(reverse("domains_backoffice:desk")).content.decode()
    assert "Niet betaald: opheffen bij het verlopen" in desk
    assert "14 dagen vooraf" in desk
    # Its end day, before the expiry: SIDN renews a .nl by itself unless cancelled.
    from kluis.formats import long_date

    registration.refresh_from_db()
    assert expiry.end_day(registration) < today + dt.timedelta(days=10)
    assert "Opheffen op" in desk
    assert long_date(expiry.end_day(registration), "nl") in desk
    assert "bijna-weg.nl" not in desk  # masked outside a case


def test_a_job_that_starts_late_sends_only_the_nearest_notice(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration = _registered_with_subscription(personas, "laat.nl")
    expiry.expiry_run(today=expiry.end_day(registration) - dt.timedelta(days=2))
    (only,) = _mails(expiry.NOTICE)
    assert only.dedupe_key.endswith(":3")


@pytest.mark.parametrize("name", ["half-weg.nl", "half-weg.eu"])
def test_killed_after_the_registry_deleted_it_the_rerun_finishes_once(
    personas: Personas,
    registries_local: epp_local.Running,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    """The rerun's delete finds it gone (2303) or, at a registry with grace periods
    (.eu), refused (2304) because the killed run's delete left it pendingDelete; <info>
    tells that apart from a lock."""
    registration = _registered_with_subscription(personas, name)
    expires = registration.expires_on
    assert expires is not None

    def crash(_registration: DomainRegistration) -> None:
        raise SystemExit("killed")

    monkeypatch.setattr(expiry, "_after_delete", crash)
    with pytest.raises(SystemExit):
        expiry.expiry_run(today=expires)
    monkeypatch.undo()
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED  # not committed
    held = registries_local.registry.domains[name]  # the registry said yes
    assert held.statuses == ["pendingDelete"]  # in redemption, or SIDN's quarantine

    assert expiry.expiry_run(today=expires) == "0 notices, 1 deleted, 0 refused, 0 waiting"
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.DELETED
    assert registration.last_error == ""
    assert len(_mails(expiry.DELETED)) == 1
    assert registries_local.registry.received.count("domain:delete") == 2


def test_a_registry_refusing_the_delete_leaves_it_on_the_desk(
    personas: Personas, registries_local: epp_local.Running, client: Client
) -> None:
    registration = _registered_with_subscription(personas, "op-slot.nl")
    expires = registration.expires_on
    assert expires is not None
    registries_local.registry.domains["op-slot.nl"].statuses.append("clientDeleteProhibited")
    assert expiry.expiry_run(today=expires) == "0 notices, 0 deleted, 1 refused, 0 waiting"
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED
    assert registration.last_error.startswith("SIDN: 2304")
    assert not _mails(expiry.DELETED)
    log_in(client, personas.staff["orders"])
    desk = client.get(reverse("domains_backoffice:desk")).content.decode()
    assert "SIDN: 2304" in desk


def test_a_renewal_paid_after_the_delete_is_proposed_for_refund_and_told_once(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    from kluis.billing.models import Refund
    from kluis.billing.services import apply_payment
    from kluis.billing.tests.test_portal_payments import received
    from kluis.domains import late_payments

    # DENIC: a registry whose own restore kluis does not use (kluis/domains/restore.py).
    registration = _registered_with_subscription(personas, "te-laat-betaald.de")
    expires = registration.expires_on
    assert expires is not None
    invoice = _unpaid_invoice(personas, registration)
    assert late_payments.late_payments_run() == 0
    assert expiry.expiry_run(today=expires) == "0 notices, 1 deleted, 0 refused, 0 waiting"
    assert late_payments.late_payments_run() == 0  # nothing paid yet

    # The customer pays the whole renewal invoice after all.
    invoice.refresh_from_db()
    payment = received(invoice, invoice.total_cents, iban="NL91ABNA0417164300", day=expires)
    apply_payment(invoice, payment, None)
    refund = Refund.objects.get(invoice=invoice)
    assert refund.status == Refund.Status.PROPOSED  # proposed, nothing sent
    # What goes back is the domain's credited part (the invoice renews more than it).
    credited = sum(abs(c.total_cents) for c in invoice.credit_notes.all())
    assert 0 < refund.amount_cents == credited < invoice.total_cents
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.DELETED  # not re-registered
    assert not registration.renewals.exists()
    assert "te-laat-betaald.de" not in registries_local.registry.domains

    assert late_payments.late_payments_run() == 1
    assert late_payments.late_payments_run() == 0  # once
    assert len(_mails(late_payments.PAID_AFTER_DELETE)) == 1
    assert AuditEntry.objects.filter(action="domains.paid_after_delete").count() == 1
    deliver_due(worker="test")
    (told,) = [m for m in mail.outbox if "kwam na de opheffing" in m.subject]
    assert "betalen we je terug" in str(told.body)

    translation.activate("nl")
    staff = Client()
    log_in(staff, personas.staff["orders"])
    desk = staff.get(reverse("domains_backoffice:desk")).content.decode()
    assert "Betaald na opheffing" in desk and "(voorgesteld)" in desk


def test_a_domain_the_registry_deleted_is_not_a_late_payment(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    from kluis.domains import late_payments

    registration = _registered_with_subscription(personas, "niet-onze-schuld.nl")
    DomainRegistration.objects.filter(pk=registration.pk).update(
        status=DomainRegistration.Status.DELETED,
        end_reason=DomainRegistration.EndReason.REGISTRY,
        deleted_at=timezone.now(),
    )
    assert late_payments.late_payments() == []


def _transferred_nl(
    personas: Personas, running: epp_local.Running, name: str, registry_expiry: dt.date
) -> DomainRegistration:
    """A .nl moved to us, the registry's expiry kept (a .nl transfer adds no term), its
    order delivered today: the first period paid runs a year from today."""
    customer = with_address(personas.customer_a)
    taken_elsewhere(running, name)
    running.registry.registry_set_expiry(name, registry_expiry)
    registration = transfer_queued(customer, name)
    assert transfers.transfers_run().startswith("0 transfers requested, 1 completed")
    Order.objects.filter(pk=registration.order_id).update(status=Order.Status.DELIVERED)
    registration.order.refresh_from_db()
    subscriptions_start(order=registration.order, started_on=timezone.localdate())
    registration.refresh_from_db()
    assert registration.expires_on == registry_expiry
    return registration


def test_a_transferred_nl_is_not_ended_at_a_registry_expiry_within_the_paid_period(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    days = dt.timedelta(days=1)
    soon = timezone.localdate() + 90 * days  # the registry's date; paid for a year
    registration = _transferred_nl(personas, registries_local, "verhuisd-betaald.nl", soon)

    assert expiry.expiry_run(today=soon - 14 * days) == (
        "0 notices, 0 deleted, 0 refused, 0 waiting"
    )
    assert expiry.expiry_run(today=soon) == "0 notices, 0 deleted, 0 refused, 0 waiting"
    assert not _mails(expiry.NOTICE)
    assert "verhuisd-betaald.nl" in registries_local.registry.domains
    # The paid first period: SIDN renews the domain by itself at its date, and kluis
    # reads the new date after it.
    (renewal,) = DomainRenewal.objects.filter(registration=registration)
    assert renewal.expires_before == soon
    assert renewals.renewals_run() == "0 renewed, 0 failed, 0 waiting, 1 left to the registry"
    registries_local.registry.clock = lambda: dt.datetime.combine(soon + days, dt.time(), dt.UTC)
    assert renewals.renewals_run(today=soon + days) == "1 renewed, 0 failed, 0 waiting"
    registration.refresh_from_db()
    assert registration.expires_on == soon.replace(year=soon.year + 1)
    assert registries_local.registry.received.count("domain:renew") == 0

    # The next term not paid: it ends at the registry's new date, as any unpaid domain.
    later = registration.expires_on
    assert expiry.expiry_run(today=later - 14 * days).startswith("1 notices")
    assert expiry.expiry_run(today=later) == "0 notices, 1 deleted, 0 refused, 0 waiting"
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.DELETED
    assert DomainRenewal.objects.filter(registration=registration).count() == 1


def test_a_transferred_nl_past_its_paid_period_unpaid_still_ends_at_the_registry_date(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    days = dt.timedelta(days=1)
    late = timezone.localdate() + 400 * days  # after the paid year ends
    registration = _transferred_nl(personas, registries_local, "verhuisd-laat.nl", late)

    assert expiry.expiry_run(today=late - 14 * days).startswith("1 notices")
    assert expiry.expiry_run(today=late) == "0 notices, 1 deleted, 0 refused, 0 waiting"
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.DELETED
    assert not DomainRenewal.objects.filter(registration=registration).exists()
    assert registries_local.registry.domains["verhuisd-laat.nl"].deleted_at  # quarantine


def test_an_unpaid_nl_is_deleted_days_before_its_expiry_with_the_notices_ahead_of_it(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    """SIDN renews a .nl by itself at its expiry unless it was cancelled before: the
    unpaid one is deleted `delete_before_expiry_days` ahead, and the notices count down
    to that day; an unpaid .eu (EURid takes <renew>) still ends on its expiry."""
    from kluis.domains.registries import REGISTRIES

    nl = _registered_with_subscription(personas, "opzeggen-vooraf.nl")
    eu = _registered_with_subscription(personas, "opheffen-op-de-dag.eu")
    expires = nl.expires_on
    assert expires is not None and eu.expires_on == expires
    ahead = REGISTRIES["sidn"].delete_before_expiry_days
    assert ahead > 0
    days = dt.timedelta(days=1)
    end = expires - ahead * days

    # The notices: 14 and 3 days before the .nl's end day, and before the .eu's expiry.
    assert expiry.expiry_run(today=end - 14 * days).startswith("1 notices")
    assert expiry.expiry_run(today=expires - 14 * days).startswith("1 notices")
    assert expiry.expiry_run(today=end - 3 * days).startswith("1 notices")
    (first, second) = [m for m in _mails(expiry.NOTICE) if m.context["registration"] == nl.pk]
    assert first.context["expires"] == second.context["expires"] == end.isoformat()
    assert [first.context["days"], second.context["days"]] == [14, 3]

    # Deleted on its end day, before the expiry; the .eu is left to its own date.
    # (the .eu's 3-day notice on the day before)
    assert expiry.expiry_run(today=end - days) == "1 notices, 0 deleted, 0 refused, 0 waiting"
    assert "opzeggen-vooraf.nl" in registries_local.registry.domains
    assert expiry.expiry_run(today=end) == "0 notices, 1 deleted, 0 refused, 0 waiting"
    nl.refresh_from_db()
    assert nl.status == DomainRegistration.Status.DELETED
    assert registries_local.registry.domains["opzeggen-vooraf.nl"].deleted_at  # quarantine
    (gone,) = _mails(expiry.DELETED)
    assert gone.context["expires"] == end.isoformat()
    eu.refresh_from_db()
    assert eu.status == DomainRegistration.Status.REGISTERED
    assert expiry.expiry_run(today=expires) == "0 notices, 1 deleted, 0 refused, 0 waiting"


def test_the_notice_says_how_long_a_late_payment_still_brings_the_name_back(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    """SIDN keeps a deleted .nl in quarantine, from which a late payment restores it
    (kluis/domains/restore.py): the notice says so, not that anyone may take the name
    at once. DNS Belgium's reactivation is not used, so a .be notice says what happens."""
    from kluis.domains.registries import REGISTRIES

    nl = _registered_with_subscription(personas, "nog-terug.nl")
    be = _registered_with_subscription(personas, "meteen-weg.be")
    mail.outbox.clear()
    for registration in (nl, be):
        expiry.expiry_run(today=expiry.end_day(registration) - dt.timedelta(days=3))
    deliver_due(worker="test")
    bodies = {m.subject.split()[2]: str(m.body) for m in mail.outbox if "opgeheven" in m.subject}
    assert set(bodies) == {"nog-terug.nl", "meteen-weg.be"}
    days = REGISTRIES["sidn"].restorable_days
    assert days == 40 and REGISTRIES["dnsbelgium"].restorable_days == 0
    assert f"houdt de naam dan nog {days} dagen voor ons vast" in bodies["nog-terug.nl"]
    assert "halen we hem voor je terug" in bodies["nog-terug.nl"]
    assert "houdt de naam" not in bodies["meteen-weg.be"]
    assert "kan iedereen de naam registreren" in bodies["meteen-weg.be"]
