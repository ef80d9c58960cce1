"""Intake: portal, public form, staff registration; due dates and extensions."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from kluis.policy.schema import Duration
from kluis.rights import emails, services
from kluis.rights.models import RightsRequest
from kluis.rights.tests.conftest import queued, rendered
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _at(day: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(f"{day}T12:00"))


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2026-03-15", "2026-04-15"),
        ("2026-01-31", "2026-02-28"),
        ("2028-01-31", "2028-02-29"),
        ("2026-12-10", "2027-01-10"),
    ],
)
def test_the_due_date_is_one_calendar_month_after_receipt(received, due):
    assert services.due_date(_at(received)) == dt.date.fromisoformat(due)


def test_a_logged_in_customer_is_verified_by_their_account(client, personas):
    log_in(client, personas.alice)
    response = client.post(reverse("rights_portal:requests"), {"kind": "objection"})
    request = RightsRequest.objects.get()
    assert response.status_code == 302
    assert request.verification == "account" and request.subject == personas.customer_a.pk
    assert request.status == "open" and request.due_on == services.due_date(request.received_at)


def _public(client, email, name="Jan Jansen"):
    return client.post(
        reverse("rights:request"), {"name": name, "email": email, "kind": "access"}, follow=True
    )


def _page(response) -> bytes:
    # Per-response nonces and tokens aside, the pages are the same byte for byte.
    return re.sub(rb'(nonce|value)="[^"]*"', b"", response.content)


def test_the_public_form_answers_the_same_for_a_customer_and_a_stranger(client, personas):
    known = _public(client, "alice@example.nl")
    unknown = _public(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert _page(known) == _page(unknown)
    mails = queued(emails.CONFIRM)
    assert len(mails) == 2
    # Neither request is linked to a customer before the link is followed.
    assert not RightsRequest.objects.filter(subject__isnull=False).exists()


def _confirm_link(message) -> str:
    text = rendered(message).body
    return re.search(r"http\S+/privacy/verzoek/bevestig/\S+/", text).group(0)


def test_a_confirmed_link_verifies_a_customer_by_the_address_on_file(client, personas):
    _public(client, "ALICE@example.nl ")
    link = _confirm_link(queued(emails.CONFIRM)[0]).split("testserver")[-1]
    path = link[link.index("/privacy/") :]
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 200
    request = RightsRequest.objects.get()
    assert request.verification == "email" and request.subject == personas.customer_a.pk
    assert client.post(path).status_code == 400  # single use


def test_a_stranger_confirms_and_is_told_nothing_is_held(client, personas):
    _public(client, "nobody@example.org")
    link = _confirm_link(queued(emails.CONFIRM)[0])
    client.post(link[link.index("/privacy/") :])
    request = RightsRequest.objects.get()
    assert request.verification == "not_found" and request.subject is None
    services.request_respond(request=request, by=personas.staff["privacy_officer"])
    answer = rendered(queued(emails.ANSWER)[0])
    assert "geen persoonsgegevens gevonden" in answer.body
    assert answer.to == ["nobody@example.org"]


def test_an_expired_confirmation_link_gets_a_clear_answer_and_loses_nothing(client, personas):
    _public(client, "alice@example.nl")
    link = _confirm_link(queued(emails.CONFIRM)[0])
    RightsRequest.objects.update(link_expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.post(link[link.index("/privacy/") :])
    assert response.status_code == 400
    assert "verlopen" in response.content.decode()
    assert RightsRequest.objects.get().status == "unconfirmed"


def test_staff_register_a_letter_and_the_link_goes_to_the_address_on_file(client, personas):
    officer = personas.staff["privacy_officer"]
    log_in(client, officer)
    response = client.post(
        reverse("rights_backoffice:register"),
        {
            "name": "A. de Vries",
            "email": "someone-else@example.org",
            "kind": "erasure",
            "received_on": "2026-11-02",
            "customer_number": personas.customer_a.number,
        },
    )
    request = RightsRequest.objects.get()
    assert response.status_code == 302
    assert request.due_on == dt.date(2026, 12, 2) and request.channel == "staff"
    assert rendered(queued(emails.CONFIRM)[0]).to == ["alice@example.nl"]


def test_an_extension_needs_a_reason_and_is_told_within_the_first_month(client, personas):
    request = services.request_from_portal(user=personas.alice, kind="restriction")
    officer = personas.staff["privacy_officer"]
    log_in(client, officer)
    url = reverse("rights_backoffice:extend", kwargs={"request_id": request.pk})
    client.post(url, {"months": "2", "reason": ""})
    request.refresh_from_db()
    assert request.extended_to is None
    client.post(url, {"months": "2", "reason": "Gegevens uit drie systemen nodig."})
    request.refresh_from_db()
    assert request.extended_to == Duration(months=2).after(request.due_on)
    mail = rendered(queued(emails.EXTENDED)[0])
    assert "Gegevens uit drie systemen nodig." in mail.body and mail.to == ["alice@example.nl"]


def test_an_extension_after_the_first_month_is_refused(personas):
    request = services.request_from_portal(user=personas.alice, kind="restriction")
    RightsRequest.objects.filter(pk=request.pk).update(
        due_on=timezone.localdate() - dt.timedelta(days=1)
    )
    request.refresh_from_db()
    with pytest.raises(services.RightsError) as refused:
        services.request_extend(
            request=request,
            months=1,
            reason="te laat bedacht",
            by=personas.staff["privacy_officer"],
        )
    assert refused.value.code == "first_month_over"


def test_markup_is_kept_as_typed_and_shown_escaped(client, personas):
    # Template syntax is refused by the name validators (test_field_validators); markup
    # that is not template syntax is a value like any other, and shown escaped.
    typed = "<script>alert(1)</script> Jansen"
    _public(client, "nobody@example.org", name=typed)
    request = RightsRequest.objects.get()
    assert request.requester_name.open() == typed
    log_in(client, personas.staff["privacy_officer"])
    page = client.get(reverse("rights_backoffice:request", kwargs={"request_id": request.pk}))
    html = page.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Jansen" in html
    assert "<script>alert(1)" not in html
