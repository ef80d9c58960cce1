"""Each help request is sealed under a key of its own, and the retention sweep ends it.

A request closed longer ago than its class's period loses its key, its row, its
messages and its attachments; the customer's newer and open requests keep theirs and
stay readable in the portal and the copy; a later request can still be sealed.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kluis.policy.enforce import Actor
from kluis.rights import sweep
from kluis.rights.export import build_export, export_json
from kluis.sites.models import HelpAttachment, HelpMessage, HelpRequest, Site
from kluis.sites.services import help_reply, help_request_close, help_request_open
from kluis.sites.testing import make_attachment, make_site
from kluis.testing import log_in
from kluis.vault import keys
from kluis.vault.errors import KeyShredded
from kluis.vault.holdings import sealed_holdings
from kluis.vault.models import DataKey

pytestmark = pytest.mark.django_db(databases="__all__")

CLASS = "contact_request"


def _key(request: HelpRequest) -> DataKey:
    return DataKey.objects.get(
        subject=request.customer_id, retention_class=CLASS, period=request.key_period
    )


def _closed(request: HelpRequest, by, days_ago: int) -> None:
    help_request_close(request=request, by=by)
    HelpRequest.objects.filter(pk=request.pk).update(
        closed_at=timezone.now() - dt.timedelta(days=days_ago)
    )


def _ask(site: Site, message: str) -> HelpRequest:
    return help_request_open(customer=site.customer, about="site", site=site, message=message)


def test_a_request_closed_past_its_period_goes_and_the_newer_one_stays(personas, client):
    site = make_site(personas.customer_a)
    old = HelpRequest.objects.get(pk=make_attachment(site, personas.alice).help_request_id)
    help_reply(request=old, body="Nog steeds traag.", by=personas.alice)
    _closed(old, personas.alice, days_ago=200)  # six months are up
    recent = _ask(site, "Mijn betaalpagina laadt niet.")
    help_reply(request=recent, body="Het gaat om de kassa.", by=personas.alice)
    _closed(recent, personas.alice, days_ago=30)
    still_open = _ask(site, "Kunnen jullie mijn thema bijwerken?")
    assert len({old.key_period, recent.key_period, still_open.key_period}) == 3

    report = sweep.retention_sweep_run()

    assert report.per_class == {CLASS: 1}
    assert not HelpRequest.objects.filter(pk=old.pk).exists()
    assert not HelpMessage.objects.filter(help_request_id=old.pk).exists()
    assert not HelpAttachment.objects.filter(help_request_id=old.pk).exists()
    assert _key(old).wrapped is None
    for kept in (recent, still_open):
        assert _key(kept).wrapped is not None
    recent = HelpRequest.objects.get(pk=recent.pk)
    assert recent.message.open() == "Mijn betaalpagina laadt niet."
    assert recent.thread.get().body.open() == "Het gaat om de kassa."

    # The customer's copy and portal still show the requests that are kept.
    subject = personas.customer_a.pk
    text = export_json(build_export(subject=subject, actor=Actor.subject(subject), language="nl"))
    assert "Mijn betaalpagina laadt niet." in text.decode()
    assert "Nog steeds traag." not in text.decode()
    log_in(client, personas.alice)
    page = client.get(reverse("sites_portal:help-request", kwargs={"request_id": still_open.pk}))
    assert "Kunnen jullie mijn thema bijwerken?" in page.content.decode()
    assert client.get(reverse("sites_portal:help-requests")).status_code == 200

    # The customer can still ask: a new request gets a key of its own.
    later = _ask(site, "Een nieuwe vraag.")
    assert later.key_period != old.key_period
    assert HelpRequest.objects.get(pk=later.pk).message.open() == "Een nieuwe vraag."


def test_an_open_request_is_never_swept(personas):
    site = make_site(personas.customer_a)
    waiting = _ask(site, "Mijn winkel is traag.")
    help_reply(request=waiting, body="We kijken ernaar.", by=personas.staff["support"])
    long_ago = timezone.now() - dt.timedelta(days=3 * 365)
    HelpRequest.objects.filter(pk=waiting.pk).update(created_at=long_ago)
    DataKey.objects.filter(pk=_key(waiting).pk).update(created_at=long_ago)

    report = sweep.retention_sweep_run(today=dt.date.today() + dt.timedelta(days=3 * 365))

    assert CLASS not in report.per_class
    waiting = HelpRequest.objects.get(pk=waiting.pk)
    assert waiting.status == HelpRequest.Status.WAITING
    assert waiting.message.open() == "Mijn winkel is traag."
    assert waiting.thread.get().body.open() == "We kijken ernaar."


def test_the_sweep_is_idempotent(personas):
    site = make_site(personas.customer_a)
    old = _ask(site, "Mijn winkel is traag.")
    _closed(old, personas.alice, days_ago=400)
    kept = _ask(site, "Nog een vraag.")

    assert sweep.retention_sweep_run().per_class == {CLASS: 1}
    again = sweep.retention_sweep_run()

    assert again.per_class == {} and again.keys_shredded == 0 and again.rows_deleted == 0
    assert not HelpRequest.objects.filter(pk=old.pk).exists()
    assert HelpRequest.objects.get(pk=kept.pk).message.open() == "Nog een vraag."
    with pytest.raises(KeyShredded):
        keys.cipher_for(keys.KeyScope(old.customer_id, CLASS, old.key_period), create=True)


def _holding_queries(subject) -> int:
    with CaptureQueriesContext(connections["default"]) as queries:
        holdings = sealed_holdings(subject)
        assert {h.value.scope.period for h in holdings if h.row._meta.model_name == "helpmessage"}
    return len(queries)


def test_a_threads_key_periods_cost_no_query_per_message(personas):
    """The messages' key period is their request's: loaded along, not asked row by row."""
    site = make_site(personas.customer_a)
    request = _ask(site, "Mijn winkel is traag.")
    help_reply(request=request, body="Eerste.", by=personas.alice)
    few = _holding_queries(personas.customer_a.pk)
    for n in range(10):
        help_reply(request=request, body=f"Bericht {n}.", by=personas.alice)
    assert _holding_queries(personas.customer_a.pk) == few
