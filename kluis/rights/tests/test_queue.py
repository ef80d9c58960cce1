"""The privacy officer's queue: deadlines, overdue first, who asked; no send from the list."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from kluis.rights import emails, services
from kluis.rights.models import RightsRequest
from kluis.rights.tests.conftest import queued, rendered
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_overdue_requests_come_first(client, personas):
    soon = services.request_from_portal(user=personas.alice, kind="objection")
    late = services.request_from_portal(user=personas.bob, kind="restriction")
    RightsRequest.objects.filter(pk=late.pk).update(
        due_on=timezone.localdate() - dt.timedelta(days=2)
    )
    log_in(client, personas.staff["privacy_officer"])
    html = client.get(reverse("rights_backoffice:queue")).content.decode()
    assert html.index(str(late.pk)) < html.index(str(soon.pk))
    assert "te laat" in html


def test_the_queue_shows_who_asked_and_sends_nothing_from_the_list(client, personas):
    mine = services.request_from_portal(user=personas.alice, kind="objection")
    RightsRequest.objects.filter(pk=mine.pk).update(verification="account")
    log_in(client, personas.staff["privacy_officer"])
    html = client.get(reverse("rights_backoffice:queue")).content.decode()
    assert f"klant {personas.customer_a.number}" in html
    # Answering happens on the request's own page, after reading it, never from the list.
    assert reverse("rights_backoffice:respond", kwargs={"request_id": mine.pk}) not in html


def _emailed_request(personas, kind: str) -> RightsRequest:
    """A request by mail, its sender verified by the address."""
    request = RightsRequest(
        kind=kind,
        channel="staff",
        subject=personas.customer_a.pk,
        verification="email",
        due_on=dt.date.today(),
    )
    request.requester_email = "alice@example.nl"
    request.save()
    return request


def test_one_click_answers_an_emailed_access_request_with_both_files(client, personas):
    request = _emailed_request(personas, "access")
    log_in(client, personas.staff["privacy_officer"])
    client.post(reverse("rights_backoffice:respond", kwargs={"request_id": request.pk}))
    request.refresh_from_db()
    assert request.status == "done"
    mail = rendered(queued(emails.ANSWER)[0])
    names = [a[0] for a in mail.attachments]
    assert names == ["mijn-gegevens.json", "mijn-gegevens.pdf"]
    data = json.loads(mail.attachments[0][1])
    assert any(v["value"] == "alice@example.nl" for c in data["categories"] for v in c["values"])
    assert mail.attachments[1][1].startswith(b"%PDF-")


@pytest.mark.parametrize("kind", ["access", "rectification"])
def test_the_officers_note_goes_with_the_answer_beside_its_files(client, personas, kind):
    request = _emailed_request(personas, kind)
    log_in(client, personas.staff["privacy_officer"])
    note = "Je oude bestellingen van vóór 2020 hebben we niet meer."
    client.post(
        reverse("rights_backoffice:respond", kwargs={"request_id": request.pk}), {"note": note}
    )
    mail = rendered(queued(emails.ANSWER)[0])
    assert note in " ".join(mail.body.split())
    names = [a[0] for a in mail.attachments]
    assert names == (["mijn-gegevens.json", "mijn-gegevens.pdf"] if kind == "access" else [])


def test_an_unverified_request_cannot_be_answered(personas):
    request = RightsRequest(kind="access", channel="public", status="open", due_on=dt.date.today())
    request.save()
    with pytest.raises(services.RightsError):
        services.request_respond(request=request, by=personas.staff["privacy_officer"])


def test_staff_of_other_roles_do_not_see_the_queue(client, personas):
    log_in(client, personas.staff["support"])
    assert client.get(reverse("rights_backoffice:queue")).status_code == 403


def test_handled_requests_stay_findable_in_the_archive(client, personas):
    done = services.request_from_portal(user=personas.alice, kind="objection")
    RightsRequest.objects.filter(pk=done.pk).update(
        status=RightsRequest.Status.DONE, closed_at=timezone.now()
    )
    still_open = services.request_from_portal(user=personas.bob, kind="restriction")
    log_in(client, personas.staff["privacy_officer"])
    queue = client.get(reverse("rights_backoffice:queue")).content.decode()
    assert str(done.pk) not in queue and reverse("rights_backoffice:archive") in queue
    archive = client.get(reverse("rights_backoffice:archive")).content.decode()
    assert str(done.pk) in archive and f"klant {personas.customer_a.number}" in archive
    assert str(still_open.pk) not in archive
    assert client.get(reverse("rights_backoffice:archive") + "?pagina=x").status_code == 200
