"""A legal order the person may not be told of leaves no trace in what they can see.

The order is registered, approved and answered through the back office; the person
rectifies their name (a follow-up to the recipient is noted) and asks for a copy of
their data by letter, answered by mail with the JSON and PDF export. Then every page
of the portal, both downloads and every mail queued for the person are read for any
trace of it. It stays on the privacy officer's pages and in the register's counts,
and once the secrecy ends it appears, with its original date.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from kluis.audit.models import Disclosure, Withholding
from kluis.mail.delivery import build_email
from kluis.mail.models import OutboxMessage
from kluis.policy.loader import current_policy
from kluis.rights import legal_requests, services
from kluis.rights.activity import event_label
from kluis.rights.models import PoliceRequest, RightsRequest
from kluis.testing import ROUTES, Personas, log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")

AUTHORITY = "Politie Eenheid Amsterdam"
BASIS = "art. 126nc Sv"
REFERENCE = "PL1300-2026-0042"


def _traces() -> list[str]:
    policy = current_policy()
    words = [
        AUTHORITY,
        BASIS,
        REFERENCE,
        "126nc",
        "PL1300",
        "politie",
        "justitie",
        "police",
        "justice",
        "vordering",
        "legal_request",
        "follow_up",
    ]
    for language in ("nl", "en"):
        words.append(policy.recipients["police_justice"].label.get(language))
        words.append(policy.purposes["legal_requests"].label.get(language))
    return [w.lower() for w in words]


def _pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _confidential_order(client: Client, personas: Personas, until: dt.date | None) -> PoliceRequest:
    first = personas.staff["privacy_officer"]
    second = make_staff(roles=["privacy_officer"])
    police = legal_requests.police_register(
        customer=personas.customer_a,
        authority=AUTHORITY,
        legal_basis=BASIS,
        order_reference=REFERENCE,
        categories=["user.name", "user.contact.email"],
        may_inform_subject=False,
        confidential_until=until,
        by=first,
    )
    legal_requests.police_decide(
        police=police, approve=True, categories=["user.name", "user.contact.email"], by=second
    )
    log_in(client, second)
    answered = client.post(
        reverse("rights_backoffice:police-answer", kwargs={"police_id": police.pk})
    )
    assert answered.status_code == 200 and AUTHORITY in answered.content.decode()
    client.logout()
    police.refresh_from_db()
    assert police.status == "answered"
    return police


def _what_the_person_sees(client: Client, personas: Personas) -> dict[str, str]:
    """Every page of the portal, both downloads, and every mail of the person."""
    seen: dict[str, str] = {}
    log_in(client, personas.alice)
    for name, route in sorted(ROUTES.items()):
        if route.audience not in ("portal", "account") or route.method != "get":
            continue
        url = reverse(name, kwargs=route.kwargs(personas) if route.kwargs else None)
        response = client.get(url)
        assert response.status_code in (200, 302, 403, 404), (name, response.status_code)
        if response.status_code == 200:
            body = response.content
            seen[name] = (
                _pdf_text(body) if body.startswith(b"%PDF") else body.decode(errors="replace")
            )
    access = services.request_from_portal(user=personas.alice, kind="access")
    assert isinstance(access, RightsRequest)
    for fmt in ("json", "pdf"):
        url = reverse("rights_portal:export", kwargs={"request_id": access.pk, "fmt": fmt})
        body = client.get(url).content
        seen[f"download.{fmt}"] = _pdf_text(body) if fmt == "pdf" else body.decode()
    client.logout()
    # By letter, answered by mail with both files attached.
    officer = personas.staff["privacy_officer"]
    letter = services.request_register(
        name="Alice de Vries",
        email="alice@example.nl",
        kind="access",
        received_on=timezone.localdate(),
        customer=personas.customer_a,
        by=officer,
    )
    services.request_confirm(request=letter)
    services.request_respond(request=letter, by=officer)
    requests = set(RightsRequest.objects.filter(subject=personas.customer_a.pk).values_list("pk"))
    subjects = {personas.customer_a.pk, *(pk for (pk,) in requests)}
    mails = OutboxMessage.objects.filter(to_subject__in=subjects)
    assert mails.filter(template="rights/email/answer").exists()
    for message in mails:
        email = build_email(message)
        parts = [email.subject, email.body, *(str(a[0]) for a in email.alternatives)]
        for filename, content, _mimetype in email.attachments:
            raw = content if isinstance(content, bytes) else str(content).encode()
            parts.append(_attachment_text(filename, raw))
        seen[f"mail {message.template} {message.dedupe_key}"] = "\n".join(parts)
    return seen


def _attachment_text(filename: str, raw: bytes) -> str:
    """An attachment as the person reads it; a zip (the copy's files) member by member."""
    if filename.endswith(".pdf"):
        return _pdf_text(raw)
    if filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            return "\n".join(
                f"{name}\n{_attachment_text(name, archive.read(name))}"
                for name in archive.namelist()
            )
    if filename.endswith((".png", ".jpg")):
        return ""  # an image the person gave us: no text of ours in it
    return raw.decode()


def _found(seen: dict[str, str]) -> dict[str, list[str]]:
    """Where a trace shows, with the words around it."""
    found: dict[str, list[str]] = {}
    for where, text in seen.items():
        lower = text.lower()
        for trace in _traces():
            at = lower.find(trace)
            if at >= 0:
                found.setdefault(where, []).append(text[max(0, at - 60) : at + 60])
    return found


def test_a_confidential_order_leaves_no_trace_for_the_person(client, personas):
    police = _confidential_order(client, personas, until=None)
    services.rectify(
        customer=personas.customer_a,
        changes={"name": "Alice de Vries-Jansen"},
        by=personas.alice.actor(),
    )
    seen = _what_the_person_sees(client, personas)
    assert {"portal:my-data", "download.json", "download.pdf"} <= set(seen)
    assert any(k.startswith("mail rights/email/answer") for k in seen)
    found = _found(seen)
    assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)

    # The privacy officer still sees it, and the register counts it.
    log_in(client, personas.staff["privacy_officer"])
    listing = client.get(reverse("rights_backoffice:police")).content.decode()
    assert AUTHORITY in listing
    register = client.get(reverse("policy:register")).content.decode()
    label = current_policy().recipients["police_justice"].label.get("nl")
    assert f"<td>{label}</td><td>1</td><td>1</td>" in register
    client.logout()

    # A decision ends the secrecy: now it shows, on the day it happened.
    log_in(client, make_staff(roles=["privacy_officer"]))
    client.post(
        reverse("rights_backoffice:police-confidentiality-end", kwargs={"police_id": police.pk})
    )
    client.logout()
    police.refresh_from_db()
    assert not police.is_confidential
    disclosure = Disclosure.objects.get(recipient="police_justice")
    log_in(client, personas.alice)
    page = client.get(reverse("portal:my-data")).content.decode()
    # Named by the authority that gave the order (C-154/21), not only "police and justice".
    assert AUTHORITY in page
    from django.utils import formats

    assert formats.date_format(timezone.localtime(disclosure.at), "j F Y") in page
    client.logout()
    seen = _what_the_person_sees(client, personas)
    found = _found(seen)
    assert "portal:my-data" in found and "download.json" in found
    export = json.loads(seen["download.json"])
    (shown,) = [r for r in export["recipients"] if r["recipient"] == AUTHORITY]
    assert shown["at"] == disclosure.at.isoformat(timespec="seconds")
    events = {a["event"] for a in export["activity"]}
    assert {
        event_label("rights.police_registered", "nl"),
        event_label("rights.police_decided", "nl"),
        event_label("disclosure", "nl"),
    } <= events


def test_the_secrecy_ends_on_the_date_the_order_names(client, personas):
    until = timezone.localdate() + dt.timedelta(days=90)
    _confidential_order(client, personas, until=until)
    log_in(client, personas.alice)
    page = client.get(reverse("portal:my-data")).content.decode().lower()
    assert not any(t in page for t in _traces())
    # The day comes.
    Withholding.objects.update(until=timezone.localdate())
    page = client.get(reverse("portal:my-data")).content.decode()
    assert current_policy().recipients["police_justice"].label.get("nl") in page


def test_an_order_the_person_may_know_of_shows_at_once(client, personas):
    police = legal_requests.police_register(
        customer=personas.customer_a,
        authority=AUTHORITY,
        legal_basis=BASIS,
        order_reference=REFERENCE,
        categories=["user.name"],
        may_inform_subject=True,
        by=personas.staff["privacy_officer"],
    )
    assert police.withholding is None and not police.is_confidential
    with pytest.raises(services.RightsError):
        legal_requests.police_register(
            customer=personas.customer_a,
            authority=AUTHORITY,
            legal_basis=BASIS,
            order_reference=REFERENCE,
            categories=["user.name"],
            may_inform_subject=True,
            confidential_until=timezone.localdate(),
            by=personas.staff["privacy_officer"],
        )


def test_the_demo_holds_an_order_the_customer_cannot_see(client, settings, tmp_path):
    from django.core.management import call_command

    from kluis.accounts.models import Customer, User

    settings.VAR_DIR = tmp_path
    call_command("demo_data", stdout=io.StringIO())
    police = PoliceRequest.objects.get()
    assert police.status == "answered" and police.is_confidential
    jonas = Customer.objects.get(number="K000004")
    assert police.subject == jonas.pk
    user = User.objects.get_by_email("jonas@demo.winkeltjes.net")
    assert user is not None
    log_in(client, user)
    seen = {"my-data": client.get(reverse("portal:my-data")).content.decode()}
    access = services.request_from_portal(user=user, kind="access")
    assert isinstance(access, RightsRequest)
    for fmt in ("json", "pdf"):
        url = reverse("rights_portal:export", kwargs={"request_id": access.pk, "fmt": fmt})
        body = client.get(url).content
        seen[fmt] = _pdf_text(body) if fmt == "pdf" else body.decode()
    assert "Jonas Schmidt" in seen["json"]
    assert _found(seen) == {}
    officer = User.objects.get_by_email("privacy@staff.winkeltjes.net")
    assert officer is not None
    client.logout()
    log_in(client, officer)
    assert "PL1300-2026-0042" in client.get(reverse("rights_backoffice:police")).content.decode()
