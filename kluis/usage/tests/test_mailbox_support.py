"""A customer's mailboxes in their copy and in the back office: support sees how many,
in which package and whether each runs, the address only by an audited reveal, and
ends one at the customer's request with one mail to the customer."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from kluis.audit.models import AuditEntry, RevealRecord
from kluis.mail.models import OutboxMessage
from kluis.policy.enforce import Actor
from kluis.rights.export import build_export
from kluis.sites.testing import make_help_request, make_site
from kluis.testing import log_in
from kluis.usage.mailboxes import mailbox_remove
from kluis.usage.models import Mailbox
from kluis.usage.testing import make_mailbox

pytestmark = pytest.mark.django_db(databases="__all__")


def _page(client, customer_id) -> str:
    response = client.get(
        reverse("usage_backoffice:mailboxes", kwargs={"customer_id": customer_id})
    )
    assert response.status_code == 200
    return response.content.decode()


def _url(name: str, box: Mailbox, customer_id=None) -> str:
    return reverse(
        f"usage_backoffice:{name}",
        kwargs={"customer_id": customer_id or box.customer_id, "mailbox_id": box.pk},
    )


def test_the_copy_holds_each_mailbox_with_its_package_dates_and_address(client, personas):
    running = make_mailbox(personas.customer_a, "info@bakkerij-alice.nl")
    ended = make_mailbox(personas.customer_a, "oud@bakkerij-alice.nl")
    mailbox_remove(personas.customer_a, ended.pk, actor="system:test")
    ended.refresh_from_db()
    make_mailbox(personas.customer_b, "post@bob-winkel.nl")
    subject = personas.customer_a.pk
    export = build_export(subject=subject, actor=Actor.subject(subject), language="nl")
    shown = {r["reference"]: r for r in export["records"] if r["kind"] == "mailbox"}
    assert set(shown) == {str(running.pk), str(ended.pk)}
    facts = {f["label"]: f["value"] for f in shown[str(running.pk)]["facts"]}
    assert running.subscription is not None
    assert facts["pakket"] == running.subscription.name("nl")
    assert facts["status"] == "in gebruik"
    assert "beëindigd op" not in facts
    with translation.override("nl"):
        from kluis.formats import long_date

        assert facts["in gebruik sinds"] == long_date(running.created_at)
        ended_facts = {f["label"]: f["value"] for f in shown[str(ended.pk)]["facts"]}
        assert ended_facts["beëindigd op"] == long_date(ended.ended_at)
    # The addresses are opened from the vault, each named by its mailbox.
    values = {(v["where"], v["value"]) for c in export["categories"] for v in c["values"]}
    assert (f"mailbox {running.pk}", "info@bakkerij-alice.nl") in values
    assert (f"mailbox {ended.pk}", "oud@bakkerij-alice.nl") in values
    assert "bob-winkel" not in str(export)
    # English labels in the English copy.
    english = build_export(subject=subject, actor=Actor.subject(subject), language="en")
    [record] = [r for r in english["records"] if r["reference"] == str(running.pk)]
    assert record["kind"] == "mailbox"
    assert {f["label"] for f in record["facts"]} == {"package", "in use since", "status"}
    # "Mijn gegevens" shows them too.
    log_in(client, personas.alice)
    page = client.get(reverse("portal:my-data")).content.decode()
    assert str(running.pk) in page and "info@bakkerij-alice.nl" in page


def test_support_sees_count_package_and_status_but_no_address(client, personas):
    translation.activate("nl")
    running = make_mailbox(personas.customer_a, "info@bakkerij-alice.nl")
    ended = make_mailbox(personas.customer_a, "oud@bakkerij-alice.nl")
    mailbox_remove(personas.customer_a, ended.pk, actor="system:test")
    make_mailbox(personas.customer_b, "post@bob-winkel.nl")
    log_in(client, personas.staff["support"])
    customer_page = client.get(
        reverse("backoffice:customer", kwargs={"customer_id": personas.customer_a.pk})
    ).content.decode()
    mailboxes_url = reverse(
        "usage_backoffice:mailboxes", kwargs={"customer_id": personas.customer_a.pk}
    )
    assert mailboxes_url in customer_page
    page = _page(client, personas.customer_a.pk)
    assert "1 van 2 mailboxen in gebruik." in page
    assert running.subscription is not None
    assert running.subscription.name("nl") in page
    assert "in gebruik sinds" in page and "beëindigd op" in page
    assert "bakkerij-alice" not in page and "bob-winkel" not in page
    assert _url("mailbox-end", running) in page
    assert _url("mailbox-end", ended) not in page  # an ended mailbox has nothing to end
    # Each row's fields have ids of their own.
    assert f'id="reveal-{running.pk}-purpose"' in page
    assert f'id="reveal-{ended.pk}-purpose"' in page
    assert not RevealRecord.objects.filter(subject=personas.customer_a.pk).exists()
    # Orders staff do not reach it; a customer who does not exist is not found.
    log_in(client, personas.staff["orders"])
    assert client.get(mailboxes_url).status_code == 403
    log_in(client, personas.staff["support"])
    gone = reverse("usage_backoffice:mailboxes", kwargs={"customer_id": personas.alice.pk})
    assert client.get(gone).status_code == 404


def test_the_address_is_revealed_only_for_a_purpose_and_case_and_on_record(client, personas):
    translation.activate("nl")
    box = make_mailbox(personas.customer_a, "info@bakkerij-alice.nl")
    log_in(client, personas.staff["support"])
    url = _url("mailbox-reveal", box)
    # Without the customer's open question the vault refuses, and says so.
    refused = client.post(url, {"field": "address", "purpose": "answer_questions"})
    body = refused.content.decode()
    assert "Niet toegestaan" in body and "bakkerij-alice" not in body
    # A purpose that does not use the address is refused by the form, in Dutch.
    wrong = client.post(url, {"field": "address", "purpose": "admin_access"})
    assert wrong.status_code == 400 and "bakkerij-alice" not in wrong.content.decode()
    assert "Dit doel gebruikt dit gegeven niet." in wrong.content.decode()
    # For the customer's open help request it opens, and the look is recorded.
    help_request = make_help_request(make_site(personas.customer_a))
    case = f"help_request:{help_request.pk}"
    opened = client.post(url, {"field": "address", "purpose": "answer_questions", "case": case})
    assert opened.status_code == 200
    assert "<output>info@bakkerij-alice.nl</output>" in opened.content.decode()
    [look] = RevealRecord.objects.filter(subject=personas.customer_a.pk, case=case)
    assert look.purpose == "answer_questions"
    assert look.actor == personas.staff["support"].actor().ref


def test_support_ends_a_mailbox_on_request_once_with_one_mail(client, personas):
    translation.activate("nl")
    box = make_mailbox(personas.customer_a, "info@bakkerij-alice.nl")
    log_in(client, personas.staff["support"])
    url = _url("mailbox-end", box)
    # Not ticked that the customer asked for it: nothing happens.
    unticked = client.post(url, {})
    assert unticked.status_code == 400
    assert "alleen als de klant daarom heeft gevraagd" in unticked.content.decode()
    assert Mailbox.objects.get(pk=box.pk).ended_at is None
    response = client.post(url, {"on_request": "on"})
    assert response.status_code == 302
    assert Mailbox.objects.get(pk=box.pk).ended_at is not None
    [entry] = AuditEntry.objects.filter(action="usage.mailbox_ended_by_staff")
    assert str(box.pk) in entry.payload and "bakkerij" not in entry.payload
    assert entry.actor == personas.staff["support"].actor().ref
    [mail] = OutboxMessage.objects.filter(dedupe_key=f"mailbox:{box.pk}:ended")
    assert mail.template == "usage/email/mailbox_ended"
    # Ending it twice: a clear Dutch answer, no second audit entry or mail.
    again = client.post(url, {"on_request": "on"})
    assert again.status_code == 400
    assert "Deze mailbox is al beëindigd." in again.content.decode()
    assert AuditEntry.objects.filter(action="usage.mailbox_ended_by_staff").count() == 1
    assert OutboxMessage.objects.filter(dedupe_key__startswith="mailbox:").count() == 1
    assert "0 van 1 mailbox in gebruik." in _page(client, personas.customer_a.pk)


def test_a_restricted_customers_mailbox_ends_and_its_mail_is_held(client, personas):
    from kluis.rights.models import ProcessingLimit

    translation.activate("nl")
    box = make_mailbox(personas.customer_a, "info@bakkerij-alice.nl")
    subject = personas.customer_a.pk
    ProcessingLimit.objects.create(
        subject=subject, kind=ProcessingLimit.Kind.RESTRICTION, started_by="staff:test"
    )
    log_in(client, personas.staff["support"])
    response = client.post(_url("mailbox-end", box), {"on_request": "on"}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "de klant krijgt er geen e-mail over" in page
    assert "art. 18 AVG" in page
    # The end happened and is on record; no mail was queued, and the held mail is too.
    assert Mailbox.objects.get(pk=box.pk).ended_at is not None
    assert AuditEntry.objects.filter(action="usage.mailbox_ended_by_staff").count() == 1
    [held] = AuditEntry.objects.filter(action="usage.mailbox_end_mail_held")
    assert str(box.pk) in held.payload and "art. 18" in held.payload
    assert "bakkerij" not in held.payload
    assert not OutboxMessage.objects.filter(dedupe_key__startswith="mailbox:").exists()
    # The vault refused to open the address, and recorded it.
    [refused] = AuditEntry.objects.filter(action="vault.reveal_refused", subject=subject)
    assert "account_management" in refused.payload
    # Once ended, asking again says so, and nothing more is written.
    again = client.post(_url("mailbox-end", box), {"on_request": "on"})
    assert again.status_code == 400
    assert AuditEntry.objects.filter(action="usage.mailbox_end_mail_held").count() == 1


def test_another_customers_mailbox_is_not_found(client, personas):
    bobs = make_mailbox(personas.customer_b, "post@bob-winkel.nl")
    log_in(client, personas.staff["support"])
    alice = personas.customer_a.pk
    reveal = client.post(
        _url("mailbox-reveal", bobs, alice), {"field": "address", "purpose": "answer_questions"}
    )
    assert reveal.status_code == 404
    assert client.post(_url("mailbox-end", bobs, alice), {"on_request": "on"}).status_code == 404
    bobs.refresh_from_db()
    assert bobs.ended_at is None
    assert not AuditEntry.objects.filter(action="usage.mailbox_ended_by_staff").exists()


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_customer_is_mailed_that_their_mailbox_ended(client, personas):
    from django.core import mail

    from kluis.mail.delivery import deliver_due

    box = make_mailbox(personas.customer_a, "info@bakkerij-alice.nl")
    log_in(client, personas.staff["support"])
    assert client.post(_url("mailbox-end", box), {"on_request": "on"}).status_code == 302
    mail.outbox.clear()
    assert deliver_due(worker="test").sent == 1
    [sent] = mail.outbox
    assert sent.to == ["alice@example.nl"]
    assert "info@bakkerij-alice.nl" in sent.subject
    assert "Op je verzoek hebben we je mailbox info@bakkerij-alice.nl" in sent.body


def test_an_erased_address_says_so_and_nothing_else_breaks(client, personas):
    from kluis.vault.keys import KeyScope, shred
    from kluis.vault.models import DataKey

    translation.activate("nl")
    box = make_mailbox(personas.customer_a, "info@bakkerij-alice.nl")
    help_request = make_help_request(make_site(personas.customer_a))
    subject = personas.customer_a.pk
    keys = DataKey.objects.filter(subject=subject)
    shred([KeyScope(k.subject, k.retention_class, k.period) for k in keys])
    log_in(client, personas.staff["support"])
    response = client.post(
        _url("mailbox-reveal", box),
        {
            "field": "address",
            "purpose": "answer_questions",
            "case": f"help_request:{help_request.pk}",
        },
    )
    assert response.status_code == 200
    assert "Dit adres is gewist, met de gegevens van de klant." in response.content.decode()
    assert "1 van 1 mailbox in gebruik." in _page(client, subject)


def test_the_mail_reads_in_english_for_an_english_customer():
    import datetime as dt

    from kluis.mail.delivery import render_mail

    moment = dt.datetime(2026, 12, 4, 13, 5, tzinfo=dt.UTC)
    context = {"address": "info@bakkerij-alice.nl", "ended_at": moment}
    english = render_mail(template="usage/email/mailbox_ended", language="en", context=context)
    assert english.subject == "Your mailbox info@bakkerij-alice.nl has ended"
    assert "At your request we ended your mailbox info@bakkerij-alice.nl on 4 December 2026" in (
        english.text
    )
    dutch = render_mail(template="usage/email/mailbox_ended", language="nl", context=context)
    assert dutch.subject == "Je mailbox info@bakkerij-alice.nl is beëindigd"
    assert "op 4 december 2026, 14:05 beëindigd" in dutch.text
