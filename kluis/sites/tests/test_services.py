"""Sites following their subscriptions, the allowlist's limits, grants and help requests."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from kluis.audit.models import AuditEntry
from kluis.shop.services import subscription_end
from kluis.sites import services
from kluis.sites.addresses import MAX_ENTRIES_PER_SITE
from kluis.sites.models import AllowEntry, HelpRequest, Site, SupportGrant
from kluis.sites.shop_link import sites_sync
from kluis.sites.testing import make_entry, make_grant, make_help_request, make_site

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_delivered_webshop_package_becomes_a_site_once(personas):
    site = make_site(personas.customer_a)
    assert site.status == Site.Status.SETUP
    assert site.kind == Site.Kind.WEBSHOP
    assert sites_sync() == 0
    assert Site.objects.count() == 1
    assert AuditEntry.objects.filter(action="sites.site_created").count() == 1


def test_the_site_ends_after_its_subscription_ends(personas):
    site = make_site(personas.customer_a)
    ended = subscription_end(subscription=site.subscription, by=personas.alice)
    assert ended.ends_on is not None
    sites_sync(today=ended.ends_on)
    site.refresh_from_db()
    assert site.status == Site.Status.SETUP  # runs to the end of its last day
    sites_sync(today=ended.ends_on + dt.timedelta(days=1))
    site.refresh_from_db()
    assert site.status == Site.Status.ENDED


def test_an_ended_site_takes_no_new_entries(personas):
    site = make_site(personas.customer_a)
    site.status = Site.Status.ENDED
    site.save()
    with pytest.raises(services.SitesError):
        make_entry(site, personas.alice)


def test_the_address_is_sealed_in_the_database(personas):
    site = make_site(personas.customer_a)
    entry = make_entry(site, personas.alice, "145.100.10.7")
    with connection.cursor() as cursor:
        cursor.execute("SELECT network FROM sites_allowentry WHERE id = %s", [entry.pk.hex])
        raw = cursor.fetchone()
    if raw is None:  # PostgreSQL keeps the uuid with dashes
        with connection.cursor() as cursor:
            cursor.execute("SELECT network FROM sites_allowentry WHERE id = %s", [str(entry.pk)])
            raw = cursor.fetchone()
    assert raw is not None and b"145.100.10.7" not in bytes(raw[0])
    assert str(AllowEntry.objects.get(pk=entry.pk).network) == "\u2022" * 8


def test_the_address_opens_only_for_the_firewall_purpose(personas):
    from kluis.policy.enforce import Actor
    from kluis.vault.errors import RevealRefused

    site = make_site(personas.customer_a)
    entry = AllowEntry.objects.select_related("site").get(pk=make_entry(site, personas.alice).pk)
    actor = Actor.system("sites_firewall")
    assert entry.network.reveal(purpose="admin_access", actor=actor) == "145.100.10.7"
    with pytest.raises(RevealRefused):
        entry.network.reveal(purpose="invoicing", actor=actor)


def test_another_customer_cannot_add_to_the_site(personas):
    site = make_site(personas.customer_a)
    with pytest.raises(services.SitesError):
        make_entry(site, personas.bob)
    assert not AllowEntry.objects.exists()


def test_a_past_expiry_is_refused(personas):
    site = make_site(personas.customer_a)
    with pytest.raises(ValidationError) as caught:
        services.entry_add(
            site=site,
            text="145.100.10.7",
            label="",
            expires_at=timezone.now() - dt.timedelta(minutes=1),
            by=personas.alice,
        )
    assert caught.value.code == "past"


def test_a_site_holds_a_bounded_number_of_entries(personas):
    site = make_site(personas.customer_a)
    for i in range(MAX_ENTRIES_PER_SITE):
        make_entry(site, personas.alice, f"145.100.10.{i + 1}")
    with pytest.raises(ValidationError) as caught:
        make_entry(site, personas.alice, "145.100.11.1")
    assert caught.value.code == "full"
    assert site.allow_entries.count() == MAX_ENTRIES_PER_SITE


def test_expired_entries_are_deleted_and_that_is_audited(personas):
    site = make_site(personas.customer_a)
    soon = timezone.now() + dt.timedelta(hours=1)
    services.entry_add(site=site, text="145.100.10.7", label="", expires_at=soon, by=personas.alice)
    make_entry(site, personas.alice, "145.100.10.8")
    assert services.expired_entries_remove(now=soon) == 1
    assert site.allow_entries.count() == 1
    assert AuditEntry.objects.filter(action="sites.allow_expired").count() == 1


# --- help requests and grants ------------------------------------------------------------


def test_a_help_request_about_another_customers_site_is_refused(personas):
    site = make_site(personas.customer_a)
    with pytest.raises(services.SitesError):
        services.help_request_open(
            customer=personas.customer_b, about="site", site=site, message="Help"
        )


def test_a_grant_is_time_boxed_named_and_audited(personas):
    site = make_site(personas.customer_a)
    grant = make_grant(site, personas.staff["support"])
    assert grant.staff == personas.staff["support"]
    assert grant.ends_at - grant.starts_at == dt.timedelta(hours=2)
    assert grant.allow_entry.expires_at == grant.ends_at
    opened = AuditEntry.objects.get(action="sites.grant_opened")
    assert opened.subject == site.customer_id
    assert "145.100.20.9" not in opened.payload


@pytest.mark.parametrize("hours", [0, 9, 24])
def test_a_grant_longer_than_eight_hours_or_empty_is_refused(personas, hours):
    site = make_site(personas.customer_a)
    request = make_help_request(site)
    with pytest.raises(services.SitesError):
        services.grant_open(
            help_request=request,
            staff=personas.staff["support"],
            hours=hours,
            staff_address="145.100.20.9",
        )
    assert not SupportGrant.objects.exists()


def test_only_support_opens_a_grant_and_only_on_an_open_request(personas):
    site = make_site(personas.customer_a)
    request = make_help_request(site)
    for role in ("orders", "finance", "admin"):
        with pytest.raises(services.SitesError):
            services.grant_open(
                help_request=request,
                staff=personas.staff[role],
                hours=1,
                staff_address="145.100.20.9",
            )
    services.help_request_close(request=request, by=personas.alice)
    with pytest.raises(services.SitesError):
        services.grant_open(
            help_request=request,
            staff=personas.staff["support"],
            hours=1,
            staff_address="145.100.20.9",
        )


def test_the_customer_ends_a_running_grant_and_its_address_leaves(personas):
    site = make_site(personas.customer_a)
    grant = make_grant(site, personas.staff["support"])
    services.grant_end(grant=grant, by=personas.alice)
    grant.refresh_from_db()
    assert grant.ended_by == "customer" and grant.ended_at is not None
    assert not AllowEntry.objects.filter(site=site).exists()
    with pytest.raises(services.SitesError):
        services.grant_end(grant=grant, by=personas.alice)


def test_another_customer_or_staff_member_cannot_end_a_grant(personas):
    site = make_site(personas.customer_a)
    grant = make_grant(site, personas.staff["support"])
    with pytest.raises(services.SitesError):
        services.grant_end(grant=grant, by=personas.bob)
    with pytest.raises(services.SitesError):
        services.grant_end(grant=grant, by=personas.staff["admin"])
    assert SupportGrant.objects.get(pk=grant.pk).ended_at is None


def test_the_customer_cannot_remove_the_grant_entry_by_hand(personas):
    site = make_site(personas.customer_a)
    grant = make_grant(site, personas.staff["support"])
    with pytest.raises(services.SitesError):
        services.entry_remove(entry=grant.allow_entry, by=personas.alice)


def test_closing_the_help_request_ends_its_grants(personas):
    site = make_site(personas.customer_a)
    grant = make_grant(site, personas.staff["support"])
    assert grant.help_request is not None
    services.help_request_close(request=grant.help_request, by=personas.staff["support"])
    grant.refresh_from_db()
    assert grant.ended_at is not None
    assert HelpRequest.objects.get(pk=grant.help_request.pk).status == HelpRequest.Status.CLOSED


def test_no_grant_on_a_suspended_site(personas):
    from kluis.sites.shop_link import site_set_status

    site = make_site(personas.customer_a)
    request = make_help_request(site)
    site_set_status(site, Site.Status.SUSPENDED, actor="system:test")
    with pytest.raises(services.SitesError):
        services.grant_open(
            help_request=request,
            staff=personas.staff["support"],
            hours=1,
            staff_address="145.100.20.9",
        )


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_supports_answer_is_delivered_by_the_mail_worker(personas):
    from django.core import mail

    from kluis.mail.delivery import deliver_due

    request = make_help_request(make_site(personas.customer_a))
    services.help_reply(request=request, body="Het is opgelost.", by=personas.staff["support"])
    mail.outbox.clear()
    report = deliver_due(worker="test")
    assert report.sent == 1
    [sent] = mail.outbox
    assert sent.to == ["alice@example.nl"]
    assert request.reference in sent.subject
    assert "Het is opgelost." in sent.body


def _schedule(site, staff, **changes):
    values = {
        "site": site,
        "staff": staff,
        "starts_at": timezone.now() + dt.timedelta(days=2),
        "hours": 2,
        "note": "WooCommerce 9.1",
        "staff_address": "145.100.20.9",
    }
    return services.update_grant_schedule(**{**values, **changes})


def test_an_update_is_announced_by_mail_and_opens_only_in_its_window(personas, firewall_dir):
    from kluis.mail.models import OutboxMessage
    from kluis.sites.firewall import current_state

    site = make_site(personas.customer_a)
    grant = _schedule(site, personas.staff["support"])
    assert OutboxMessage.objects.filter(dedupe_key=f"grant:{grant.pk}:announced").exists()
    assert current_state()[site.pk] == []
    assert current_state(grant.starts_at)[site.pk] == ["145.100.20.9"]
    assert current_state(grant.ends_at)[site.pk] == []


@pytest.mark.parametrize(
    "changes",
    [
        {"starts_at": "soon"},
        {"hours": 9},
        {"note": "  "},
        {"staff_address": "10.0.0.0/8"},
    ],
)
def test_an_update_without_notice_too_long_unnamed_or_bad_is_refused(personas, changes):
    site = make_site(personas.customer_a)
    if changes.get("starts_at") == "soon":
        changes = {"starts_at": timezone.now() + dt.timedelta(hours=2)}
    with pytest.raises((services.SitesError, ValidationError)):
        _schedule(site, personas.staff["support"], **changes)
    assert not SupportGrant.objects.exists()


def test_the_customer_ends_an_announced_update_before_it_starts(personas):
    site = make_site(personas.customer_a)
    grant = _schedule(site, personas.staff["support"])
    services.grant_end(grant=grant, by=personas.alice)
    assert not AllowEntry.objects.filter(site=site).exists()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_announcement_is_delivered(personas):
    from django.core import mail

    from kluis.mail.delivery import deliver_due

    site = make_site(personas.customer_a)
    _schedule(site, personas.staff["support"])
    mail.outbox.clear()
    assert deliver_due(worker="test").sent == 1
    [sent] = mail.outbox
    assert "WooCommerce 9.1" in sent.body
    assert f"site {site.pk}" in sent.subject


def test_the_access_export_holds_the_sites_and_every_support_grant(personas):
    """The customer's copy (art. 15 GDPR) lists each site and each time support had
    access, as readable facts; another customer's grant is not in it."""
    from kluis.policy.enforce import Actor
    from kluis.rights.export import build_export

    site = make_site(
        personas.customer_a,
        hosts="winkel.example.nl",
        admin_url="https://winkel.example.nl/beheer/",
    )
    grant = make_grant(site, personas.staff["support"])
    services.grant_end(grant=grant, by=personas.alice)
    make_grant(make_site(personas.customer_b), personas.staff["support"])
    subject = personas.customer_a.pk
    export = build_export(subject=subject, actor=Actor.subject(subject), language="en")
    by_kind: dict[str, list[dict]] = {}
    for record in export["records"]:
        by_kind.setdefault(record["kind"], []).append(record)
    [shown] = by_kind["support access"]
    facts = {f["label"]: f["value"] for f in shown["facts"]}
    assert facts["site"] == str(site.pk)
    assert facts["why"] == f"your help request {grant.help_request.reference}"
    assert facts["ended"] == "by you"
    assert facts["who"] == f"staff member {personas.staff['support'].pk}"
    [site_record] = by_kind["site"]
    assert site_record["reference"] == str(site.pk)
    # Host names and the admin address are sealed: the copy opens them from the vault.
    [domains] = [c for c in export["categories"] if c["label"] == "domain name"]
    values = {v["value"] for v in domains["values"]}
    assert {"winkel.example.nl", "https://winkel.example.nl/beheer/"} <= values


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_suspension_is_mailed_to_the_customer_once(personas):
    from django.core import mail

    from kluis.mail.delivery import deliver_due
    from kluis.sites.shop_link import site_set_status

    site = make_site(personas.customer_a)
    site_set_status(site, Site.Status.SUSPENDED, actor="test")
    site_set_status(site, Site.Status.SUSPENDED, actor="test")  # no second notice
    mail.outbox.clear()
    assert deliver_due(worker="test").sent == 1
    [sent] = mail.outbox
    assert sent.subject.endswith(f"Je site {site.pk} is opgeschort")
    assert "beheeromgeving voor niemand bereikbaar" in sent.body
    assert sent.to == ["alice@example.nl"]
    site_set_status(site, Site.Status.LIVE, actor="test")
    site_set_status(site, Site.Status.SUSPENDED, actor="test")  # a new suspension: a notice
    assert deliver_due(worker="test").sent == 1


def test_a_restricted_customers_site_is_suspended_and_the_mail_held(client, personas):
    from django.urls import reverse

    from kluis.mail.models import OutboxMessage
    from kluis.rights.models import ProcessingLimit
    from kluis.testing import log_in

    site = make_site(personas.customer_a)
    ProcessingLimit.objects.create(
        subject=personas.customer_a.pk,
        kind=ProcessingLimit.Kind.RESTRICTION,
        started_by="staff:test",
    )
    log_in(client, personas.staff["orders"])
    response = client.post(
        reverse("sites_backoffice:site-status", kwargs={"site_id": site.pk}),
        {"status": Site.Status.SUSPENDED},
        follow=True,
    )
    assert "de klant krijgt er geen e-mail over" in response.content.decode()
    site.refresh_from_db()
    assert site.status == Site.Status.SUSPENDED
    assert not OutboxMessage.objects.filter(dedupe_key__startswith=f"site:{site.pk}:").exists()
    [held] = AuditEntry.objects.filter(action="sites.site_suspended_mail_held")
    assert json.loads(held.payload)["data"]["site"] == site.pk
    assert "art. 18" in held.payload
