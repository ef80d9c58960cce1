"""A paid renewal invoice renews the domain at its registry, once, crash or not."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from kluis.billing.renewals import renewal_invoice_issue
from kluis.billing.settlement import invoice_paid
from kluis.domains import epp_local, renewals, services
from kluis.domains.models import DomainRegistration, DomainRenewal
from kluis.domains.registries import registry_for
from kluis.domains.tests.test_registration import queued, with_address
from kluis.shop.models import Order
from kluis.shop.services import subscriptions_start
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _registered_with_subscription(personas: Personas, name: str) -> DomainRegistration:
    customer = with_address(personas.customer_a)
    registration = queued(customer, name, consent=registry_for(name).outside_eu)
    assert services.registrations_run() == "1 registered, 0 failed or refused, 0 waiting"
    Order.objects.filter(pk=registration.order_id).update(status=Order.Status.DELIVERED)
    registration.order.refresh_from_db()
    subscriptions_start(order=registration.order, started_on=dt.date.today())
    registration.refresh_from_db()
    return registration


def _renewal_paid(personas: Personas, registration: DomainRegistration) -> dt.date:
    """Issue the next period's renewal invoice and pay it; our expiry before it."""
    before = registration.expires_on
    assert before is not None
    invoice = renewal_invoice_issue(
        customer=personas.customer_a, today=before - dt.timedelta(days=10)
    )
    assert invoice is not None
    invoice_paid(invoice)
    return before


def test_a_paid_renewal_invoice_renews_once_and_an_unpaid_one_not(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration = _registered_with_subscription(personas, "verleng-mij.com")
    registry = registries_local.registry
    before = registration.expires_on
    assert before is not None
    # The period's renewal invoice, issued ahead of the period; not paid: nothing.
    invoice = renewal_invoice_issue(
        customer=personas.customer_a, today=before - dt.timedelta(days=10)
    )
    assert invoice is not None
    assert renewals.renewals_run() == "0 renewed, 0 failed, 0 waiting"

    invoice_paid(invoice)
    invoice_paid(invoice)  # a payment heard twice queues one renewal
    assert DomainRenewal.objects.filter(registration=registration).count() == 1
    assert renewals.renewals_run() == "1 renewed, 0 failed, 0 waiting"
    registration.refresh_from_db()
    assert registration.expires_on == before.replace(year=before.year + 1)
    assert registry.domains["verleng-mij.com"].expires[:4] == str(before.year + 1)
    assert registry.received.count("domain:renew") == 1
    assert renewals.renewals_run() == "0 renewed, 0 failed, 0 waiting"


def test_a_crash_after_the_registrys_yes_completes_without_renewing_twice(
    personas: Personas, registries_local: epp_local.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    registration = _registered_with_subscription(personas, "crash-verleng.eu")
    before = _renewal_paid(personas, registration)

    def crash(_: DomainRenewal) -> None:
        raise SystemExit("killed between the registry's yes and our commit")

    monkeypatch.setattr(renewals, "_after_renew", crash)
    with pytest.raises(SystemExit):
        renewals.renewals_run()
    assert DomainRenewal.objects.get().status == DomainRenewal.Status.PENDING
    monkeypatch.undo()
    assert renewals.renewals_run() == "1 renewed, 0 failed, 0 waiting"
    assert registries_local.registry.received.count("domain:renew") == 1
    registration.refresh_from_db()
    assert registration.expires_on == before.replace(year=before.year + 1)


def test_the_registry_refusing_a_renewal_fails_it_with_its_words_on_the_desk(
    personas: Personas, registries_local: epp_local.Running, client: Client
) -> None:
    registration = _registered_with_subscription(personas, "op-slot.eu")
    before = _renewal_paid(personas, registration)
    registries_local.registry.domains["op-slot.eu"].statuses.append("clientRenewProhibited")
    assert renewals.renewals_run() == "0 renewed, 1 failed, 0 waiting"
    failed = DomainRenewal.objects.get()
    assert "2304" in failed.last_error and failed.last_error.startswith("EURid:")
    registration.refresh_from_db()
    assert registration.expires_on == before
    log_in(client, personas.staff["orders"])
    page = client.get(reverse("domains_backoffice:desk")).content.decode()
    assert "EURid: 2304 Object status prohibits operation" in page and "verlenging mislukt" in page


def _plus_year(day: dt.date) -> dt.date:
    return day.replace(year=day.year + 1)


def test_a_refused_renew_at_a_registry_that_renewed_by_itself_records_its_date(
    personas: Personas, registries_local: epp_local.Running, client: Client
) -> None:
    from kluis.audit.models import AuditEntry
    from kluis.domains.expiry import unpaid

    registration = _registered_with_subscription(personas, "zelf-verlengd.eu")
    before = _renewal_paid(personas, registration)
    registry = registries_local.registry
    registry.renew_refusal, registry.auto_renew = 2105, True
    assert renewals.renewals_run() == "1 renewed, 0 failed, 0 waiting"
    renewal = DomainRenewal.objects.get()
    assert renewal.status == DomainRenewal.Status.BY_REGISTRY
    assert renewal.expires_after == _plus_year(before)
    assert "2105" in renewal.last_error
    registration.refresh_from_db()
    assert registration.expires_on == _plus_year(before)
    assert registry.received.count("domain:renew") == 1
    assert registry.received[-1] == "domain:info"
    entry = AuditEntry.objects.filter(action="domains.renewed_by_registry").get()
    assert _plus_year(before).isoformat() in entry.payload
    # The next term is judged from the registry's date: unpaid from there on.
    assert unpaid().filter(pk=registration.pk).exists()
    assert renewals.renewals_run() == "0 renewed, 0 failed, 0 waiting"
    log_in(client, personas.staff["orders"])
    page = client.get(reverse("domains_backoffice:desk")).content.decode()
    assert "door de registry verlengd" in page


def test_a_refused_renew_where_info_shows_no_later_date_stays_on_the_desk(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration = _registered_with_subscription(personas, "niet-verlengd.eu")
    before = _renewal_paid(personas, registration)
    registries_local.registry.renew_refusal = 2105  # refused, and not renewed by itself
    assert renewals.renewals_run() == "0 renewed, 1 failed, 0 waiting"
    renewal = DomainRenewal.objects.get()
    assert renewal.status == DomainRenewal.Status.FAILED and "2105" in renewal.last_error
    assert registries_local.registry.received[-1] == "domain:info"
    registration.refresh_from_db()
    assert registration.expires_on == before


def test_a_refused_renew_whose_info_fails_too_stays_on_the_desk(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration = _registered_with_subscription(personas, "info-faalt.eu")
    before = _renewal_paid(personas, registration)
    registry = registries_local.registry
    registry.renew_refusal, registry.auto_renew = 2105, True
    registry.faults.error_after = ("domain:info", "domain:renew")
    assert renewals.renewals_run() == "0 renewed, 1 failed, 0 waiting"
    assert DomainRenewal.objects.get().status == DomainRenewal.Status.FAILED
    registration.refresh_from_db()
    assert registration.expires_on == before


def test_the_stored_expiry_is_the_one_in_the_renew_answer(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration = _registered_with_subscription(personas, "later-erbij.eu")
    before = _renewal_paid(personas, registration)
    registries_local.registry.renew_extra_days = 45
    assert renewals.renewals_run() == "1 renewed, 0 failed, 0 waiting"
    registration.refresh_from_db()
    expected = _plus_year(before) + dt.timedelta(days=45)
    assert registration.expires_on == expected
    assert registries_local.registry.domains["later-erbij.eu"].expires[:10] == str(expected)
    assert DomainRenewal.objects.get().expires_after == expected


# --- registries that renew by themselves (SIDN for .nl) ---------------------------------


def _past(day: dt.date) -> dt.datetime:
    """A registry clock just past the start of `day` (UTC)."""
    return dt.datetime.combine(day, dt.time(1), dt.UTC)


def test_a_paid_nl_sends_no_renew_and_its_new_date_is_read_after_the_expiry(
    personas: Personas, registries_local: epp_local.Running, client: Client
) -> None:
    from kluis.audit.models import AuditEntry
    from kluis.domains import expiry

    nl = _registered_with_subscription(personas, "vanzelf.nl")
    com = _registered_with_subscription(personas, "expliciet.com")
    before = _renewal_paid(personas, nl)  # one invoice for both periods
    assert com.expires_on == before
    registry = registries_local.registry
    days = dt.timedelta(days=1)

    # Ahead of the expiry: the .com is renewed with <renew>, the .nl closed as paid.
    assert renewals.renewals_run(today=before - 9 * days) == (
        "1 renewed, 0 failed, 0 waiting, 1 left to the registry"
    )
    assert registry.received.count("domain:renew") == 1  # the .com's
    left = DomainRenewal.objects.get(registration=nl)
    assert left.status == DomainRenewal.Status.AWAITING and left.last_error == ""
    assert DomainRenewal.objects.get(registration=com).status == DomainRenewal.Status.RENEWED
    # Paid: no notice and no delete before or on its date.
    assert expiry.expiry_run(today=expiry.end_day(nl)) == (
        "0 notices, 0 deleted, 0 refused, 0 waiting"
    )
    assert "vanzelf.nl" in registry.domains
    seen = len(registry.received)
    assert renewals.renewals_run(today=before) == "0 renewed, 0 failed, 0 waiting"
    assert len(registry.received) == seen  # nothing asked before the expiry passed
    log_in(client, personas.staff["orders"])
    page = client.get(reverse("domains_backoffice:desk")).content.decode()
    assert "betaald, de registry verlengt zelf" in page

    # SIDN renews it at its expiry; the next run reads the new date with <info>.
    registry.clock = lambda: _past(before + days)
    assert renewals.renewals_run(today=before + days) == "1 renewed, 0 failed, 0 waiting"
    assert registry.received[seen:].count("domain:info") == 1
    assert "domain:renew" not in registry.received[seen:]
    left.refresh_from_db()
    assert left.status == DomainRenewal.Status.BY_REGISTRY
    assert left.expires_after == _plus_year(before)
    nl.refresh_from_db()
    assert nl.expires_on == _plus_year(before)
    entry = AuditEntry.objects.filter(action="domains.renewed_by_registry").get()
    assert _plus_year(before).isoformat() in entry.payload
    assert renewals.renewals_run(today=before + 2 * days) == "0 renewed, 0 failed, 0 waiting"
    page = client.get(reverse("domains_backoffice:desk")).content.decode()
    assert "door de registry verlengd" in page


def test_a_registry_that_shows_the_old_date_days_after_the_expiry_goes_to_the_desk(
    personas: Personas, registries_local: epp_local.Running, client: Client
) -> None:
    registration = _registered_with_subscription(personas, "niet-vanzelf.nl")
    before = _renewal_paid(personas, registration)
    registry = registries_local.registry
    registry.self_renew_tlds = ()  # this time the registry does not renew it
    registry.clock = lambda: _past(before + dt.timedelta(days=1))
    days = dt.timedelta(days=1)

    assert renewals.renewals_run(today=before - days) == (
        "0 renewed, 0 failed, 0 waiting, 1 left to the registry"
    )
    # Past the expiry, <info> shows the old date: it waits a few days, then the desk.
    wait = renewals.BY_REGISTRY_WAIT_DAYS
    assert renewals.renewals_run(today=before + (wait - 1) * days) == (
        "0 renewed, 0 failed, 0 waiting, 1 left to the registry"
    )
    assert renewals.renewals_run(today=before + wait * days) == "0 renewed, 1 failed, 0 waiting"
    failed = DomainRenewal.objects.get()
    assert failed.status == DomainRenewal.Status.FAILED
    assert failed.last_error.startswith("SIDN heeft de naam niet zelf verlengd")
    assert before.isoformat() in failed.last_error
    assert "domain:renew" not in registry.received
    registration.refresh_from_db()
    assert registration.expires_on == before
    assert renewals.renewals_run(today=before + (wait + 1) * days) == (
        "0 renewed, 0 failed, 0 waiting"
    )
    log_in(client, personas.staff["orders"])
    page = client.get(reverse("domains_backoffice:desk")).content.decode()
    assert "SIDN heeft de naam niet zelf verlengd" in page and "verlenging mislukt" in page


def test_a_name_left_to_the_registry_is_read_once_a_day_after_its_expiry(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration = _registered_with_subscription(personas, "eens-per-dag.nl")
    before = _renewal_paid(personas, registration)
    registry = registries_local.registry
    registry.self_renew_tlds = ()  # the registry has not booked its renewal yet
    registry.clock = lambda: _past(before + dt.timedelta(days=1))
    day_after = before + dt.timedelta(days=1)
    assert renewals.renewals_run(today=before) == (
        "0 renewed, 0 failed, 0 waiting, 1 left to the registry"
    )

    infos = registry.received.count("domain:info")
    # The worker runs the job many times a day: <info> is asked once that day.
    for _ in range(3):
        renewals.renewals_run(today=day_after)
    assert registry.received.count("domain:info") == infos + 1
    assert DomainRenewal.objects.get().checked_on == day_after
    # The next day it is asked again.
    renewals.renewals_run(today=day_after + dt.timedelta(days=1))
    assert registry.received.count("domain:info") == infos + 2
