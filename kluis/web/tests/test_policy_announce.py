"""`manage.py policy_announce`: one mail per active customer per version, never twice."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from kluis.accounts.models import Customer
from kluis.mail.delivery import deliver_due
from kluis.mail.models import OutboxMessage
from kluis.policy.loader import current_policy
from kluis.testing import make_customer

pytestmark = pytest.mark.django_db(databases="__all__")


def _joined_before_the_version() -> None:
    """Make every customer so far one who signed up under the previous version."""
    before = dt.datetime.combine(current_policy().date - dt.timedelta(days=30), dt.time(12))
    Customer.objects.update(created_at=timezone.make_aware(before))


def _announce() -> str:
    out = io.StringIO()
    call_command("policy_announce", stdout=out)
    return out.getvalue()


def test_each_active_customer_is_told_once_per_version(personas):
    ended = make_customer(name="Oud Klant", email="oud@example.nl")
    ended.customer.contract_ended_at = timezone.now()
    ended.customer.save()
    inactive = make_customer(name="Slaap Klant", email="slaap@example.nl")
    inactive.is_active = False
    inactive.save()
    version = current_policy().version
    _joined_before_the_version()

    assert "2 queued, 0 already told" in _announce()
    keys = set(OutboxMessage.objects.values_list("dedupe_key", flat=True))
    assert keys == {
        f"policy:{version}:{personas.customer_a.id}",
        f"policy:{version}:{personas.customer_b.id}",
    }
    assert "0 queued, 2 already told" in _announce()
    assert OutboxMessage.objects.count() == 2


def test_the_mail_carries_the_change_note_and_the_link(personas, smtp_settings):
    english = make_customer(name="Eve English", email="eve@example.nl", language="en")
    _joined_before_the_version()
    _announce()
    deliver_due(worker="test")
    by_address = {r.rcpt_tos[0]: r for r in smtp_settings.received}
    assert set(by_address) == {"alice@example.nl", "bob@example.nl", "eve@example.nl"}
    policy = current_policy()
    dutch = by_address["alice@example.nl"]
    assert f"versie {policy.version}" in dutch.message["Subject"]
    assert policy.changes.nl.split(".")[0] in " ".join(dutch.text.split())
    assert "http://127.0.0.1:8000/privacy/" in dutch.text and "/privacy/" in dutch.html
    en = by_address["eve@example.nl"]
    assert en.message["Subject"] == f"Our privacy policy has changed (version {policy.version})"
    assert policy.changes.en.split(".")[0] in " ".join(en.text.split())
    assert english.customer.language == "en"


def test_the_worker_tells_each_customer_of_the_version_in_force_once_a_day(personas):
    """R45: a new version reaches every customer without anyone running the command."""
    from kluis.jobs.registry import JOBS

    job = JOBS["policy_announce"]
    assert job.every == dt.timedelta(days=1)
    version = current_policy().version
    _joined_before_the_version()
    assert job.run() == (
        f"policy {version}: 2 queued, 0 already told, 0 without a usable address, "
        "0 joined under this version"
    )
    assert job.run().startswith(f"policy {version}: 0 queued, 2 already told")
    # one mail each, through the outbox, with this version's key
    keys = list(OutboxMessage.objects.values_list("dedupe_key", flat=True))
    assert sorted(keys) == sorted(
        f"policy:{version}:{c.id}" for c in (personas.customer_a, personas.customer_b)
    )


def test_customers_who_signed_up_under_the_version_are_not_told_it_changed(personas):
    """Whoever became a customer on or after the version's day was shown it at sign-up."""
    policy = current_policy()
    _joined_before_the_version()
    on_the_day = make_customer(name="Dag Klant", email="dag@example.nl")
    the_evening_before = make_customer(name="Avond Klant", email="avond@example.nl")
    for person, moment in (
        (on_the_day, dt.datetime.combine(policy.date, dt.time.min)),
        (
            the_evening_before,
            dt.datetime.combine(policy.date, dt.time.min) - dt.timedelta(minutes=1),
        ),
    ):
        Customer.objects.filter(pk=person.customer.pk).update(
            created_at=timezone.make_aware(moment)
        )

    out = _announce()
    assert "3 queued" in out and "1 joined under this version" in out
    told = set(OutboxMessage.objects.values_list("dedupe_key", flat=True))
    assert f"policy:{policy.version}:{the_evening_before.customer.id}" in told
    assert f"policy:{policy.version}:{on_the_day.customer.id}" not in told


@pytest.mark.parametrize(("days_after", "shown"), [(0, True), (29, True), (30, False), (-1, False)])
def test_the_home_pages_say_for_thirty_days_that_the_policy_changed(
    personas, monkeypatch, days_after, shown
):
    from types import SimpleNamespace

    from django.test import Client
    from django.urls import reverse
    from django.utils import translation

    from kluis.formats import long_date
    from kluis.testing import log_in
    from kluis.web.templatetags import ui

    policy = current_policy()
    day = policy.date + dt.timedelta(days=days_after)
    monkeypatch.setattr(ui, "timezone", SimpleNamespace(localdate=lambda: day))
    notice = (
        f"Op {long_date(policy.date, 'nl')} is versie {policy.version} van ons privacybeleid "
        "ingegaan."
    )
    portal = Client()
    log_in(portal, personas.alice)
    with translation.override("nl"):
        for client, url in ((Client(), reverse("web:home")), (portal, reverse("portal:home"))):
            html = client.get(url, headers={"accept-language": "nl"}).content.decode()
            assert (notice in html) is shown, url
            link = f'<a href="{reverse("policy:versions")}">Lees wat er is veranderd</a>'
            assert (link in html) is shown, url
