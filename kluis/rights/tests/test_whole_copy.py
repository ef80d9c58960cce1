"""The copy is the whole copy (issue 10, items 3 and 8; art. 15(1), 15(2), 15(3) GDPR).

The access export (JSON and PDF) and "Mijn gegevens" hold the person's orders,
invoices, payments, reminders and collection costs; name the recipients by their own
names (CJEU C-154/21); say that no automated decisions are made and what protects a
transfer outside the EU; name what is held outside kluis with where and how long;
carry contact-person records; and show no internal code.
"""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from pypdf import PdfReader

from kluis.accounts.models import Contact
from kluis.audit.disclosures import disclosure_record
from kluis.billing.models import BankStatement, Payment, Reminder
from kluis.billing.testing import invoice_through_reminders
from kluis.formats import euro, long_date
from kluis.mail.models import OutboxMessage
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.policy.schema import Held, LegalBasis, Trigger
from kluis.rights import activity, limits, services
from kluis.rights.export import build_export, export_json
from kluis.rights.models import ProcessingLimit
from kluis.rights.pdf import export_pdf
from kluis.rights.testing import alice_request
from kluis.shop.testing import make_order
from kluis.testing import log_in, make_customer, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")


class _Text(HTMLParser):
    """The text a reader sees: no tags, no attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def pdf_text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _export(customer, language="nl"):
    return build_export(subject=customer.pk, actor=Actor.subject(customer.pk), language=language)


def _rich(personas):
    """Alice with an order with a .com domain, an invoice through reminders and the
    statutory letter, a payment, and an online payment through Mollie."""
    alice = personas.customer_a
    make_order(alice, domain="voorbeeld.com")
    invoice = invoice_through_reminders(alice)
    statement = BankStatement.objects.create(
        version="02", message_id="W", statement_id="W", sha256="0" * 64
    )
    Payment(
        statement=statement,
        entry_reference=f"W-{invoice.number}",
        subject=alice.pk,
        booking_date=invoice.issue_date,
        amount_cents=1234,
        match=Payment.Match.REFERENCE,
        invoice=invoice,
        iban="NL02ABNA0123456789",
        holder="Alice de Vries",
    ).save(force_insert=True)
    disclosure_record(
        subject=alice.pk,
        recipient="payment_provider",
        purpose="payment_matching",
        categories=["user.financial.bank_account"],
        actor=Actor.system("test"),
        reference="tr_test",
    )
    return alice, invoice


def test_the_copy_holds_orders_invoices_payments_reminders_and_collection_costs(client, personas):
    alice, invoice = _rich(personas)
    letter = Reminder.objects.get(invoice=invoice, stage=Reminder.STATUTORY_LETTER)
    assert letter.costs_cents > 0
    export = _export(alice)
    text = export_json(export).decode()
    orders = [r for r in export["records"] if r["kind"] == "bestelling"]
    assert len(orders) == 2
    (shown,) = [
        r for r in export["records"] if r["reference"] == invoice.number and r["kind"] == "factuur"
    ]
    facts = {f["label"]: f["value"] for f in shown["facts"]}
    assert facts["bedrag"] == euro(invoice.total_cents, "nl")
    assert any(
        r["kind"] == "betaling" and r["reference"] == invoice.number for r in export["records"]
    )
    (statutory,) = [r for r in export["records"] if r["kind"].startswith("wettelijke aanmaning")]
    assert {"label": "incassokosten", "value": euro(letter.costs_cents, "nl")} in statutory["facts"]
    assert sum(r["kind"].startswith("herinnering") for r in export["records"]) >= 1
    # The invoice's sealed name says which invoice it is on, read through the vault.
    assert f"factuur {invoice.number}" in {
        v["where"] for c in export["categories"] for v in c["values"]
    }
    assert invoice.number in pdf_text(export_pdf(export))
    # English too, with English labels.
    english = _export(alice, "en")
    assert any(
        r["kind"] == "invoice" and r["reference"] == invoice.number for r in english["records"]
    )
    # "Mijn gegevens" shows the same rows.
    log_in(client, personas.alice)
    page = visible(client.get(reverse("portal:my-data")).content.decode())
    assert invoice.number in page and euro(invoice.total_cents, "nl") in page
    assert euro(letter.costs_cents, "nl") in page
    assert text  # the JSON is whole and serialisable


def test_recipients_are_named_by_their_own_name_with_the_transfer_safeguard(client, personas):
    alice, _invoice = _rich(personas)
    policy = current_policy()
    export = _export(alice)
    named = {r["name"]: r for r in export["recipients_by_name"]}
    # The registry of the .com extension, outside the EU, by its own name.
    assert named["VeriSign, Inc."]["outside_eu"]
    assert named["VeriSign, Inc."]["safeguards"] == policy.recipients["verisign"].safeguards.get(
        "nl"
    )
    assert "Mollie B.V." in named
    supplier = policy.recipients["server_supplier"].subprocessor
    assert supplier is not None and supplier.legal_name in named
    (transfer,) = export["transfers_outside_eu"]["transfers"]
    assert transfer["name"] == "VeriSign, Inc." and not export["transfers_outside_eu"]["none"]
    assert "art. 49 lid 1 sub a AVG" in pdf_text(export_pdf(export))
    log_in(client, personas.alice)
    page = visible(client.get(reverse("portal:my-data")).content.decode())
    assert "VeriSign, Inc." in page and "Mollie B.V." in page


def test_without_a_transfer_the_copy_says_so_and_names_no_registry(personas):
    bob = personas.customer_b
    make_order(bob)  # a package, no domain
    export = _export(bob)
    assert export["transfers_outside_eu"]["transfers"] == []
    assert export["transfers_outside_eu"]["none"] == (
        "We hebben geen gegevens van je gegeven aan iemand buiten de EU."
    )
    assert not any("registry" in r["why"] for r in export["recipients_by_name"])


def test_the_copy_says_no_automated_decisions_are_made_from_the_policy(client, personas):
    policy = current_policy()
    assert policy.automated_decisions is not None and not policy.automated_decisions.used
    text = policy.automated_decisions.text
    assert _export(personas.customer_a)["automated_decisions"] == text.get("nl")
    assert _export(personas.customer_a, "en")["automated_decisions"] == text.get("en")
    log_in(client, personas.alice)
    assert text.get("nl")[:60] in visible(client.get(reverse("portal:my-data")).content.decode())


def test_the_copy_names_what_is_held_outside_kluis_with_where_and_how_long(client, personas):
    policy = current_policy()
    outside = {c.label.get("nl"): c for c in policy.categories.values() if c.held is Held.OUTSIDE}
    assert "IP-adres bij inlogpogingen" in outside
    # Usage of sites is counted in kluis itself now (kluis/usage), as day totals.
    assert "gebruik van webwinkels en websites" not in outside
    export = _export(personas.customer_a)
    held = {h["label"]: h for h in export["held_outside_kluis"]}
    assert set(held) == set(outside)
    for label, declared in outside.items():
        assert held[label]["where"] == declared.held_where.get("nl")
        assert held[label]["how_long"]
    assert "logbestanden van onze servers" in pdf_text(export_pdf(export))
    log_in(client, personas.alice)
    page = visible(client.get(reverse("portal:my-data")).content.decode())
    assert "IP-adres bij inlogpogingen" in page


def _codes() -> tuple[set[str], set[str]]:
    """Every internal code that could leak: (distinctive ones, all of them)."""
    policy = current_policy()
    keys = (
        set(policy.categories)
        | set(policy.purposes)
        | set(policy.retention)
        | set(policy.recipients)
        | {t.value for t in Trigger}
        | {b.value for b in LegalBasis}
        | set(activity.EVENTS)
    )
    distinctive = {k for k in keys if "." in k or "_" in k}
    # "account" is a retention class and also the word, in Dutch and English, for the
    # login account a value sits on.
    return distinctive, keys - {"account"}


def _strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def test_no_internal_code_reaches_the_person(client, personas):
    alice, _invoice = _rich(personas)
    alice.email.reveal(purpose="data_subject_rights", actor=Actor.subject(alice.pk))
    distinctive, every = _codes()
    for language in ("nl", "en"):
        export = json.loads(export_json(_export(alice, language)))
        strings = [s for s in _strings(export) if s not in (export["subject"], export["format"])]
        assert not [s for s in strings if s in every], language
        joined = " ".join(strings)
        assert not [k for k in distinctive if k in joined], language
        pdf = pdf_text(export_pdf(_export(alice, language))).replace("\n", " ")
        assert not [k for k in distinctive if k in pdf], language
    log_in(client, personas.alice)
    page = visible(client.get(reverse("portal:my-data")).content.decode())
    assert not [k for k in distinctive if k in page]


def test_dutch_names_for_the_records_on_the_dutch_page(client, personas):
    alice, _invoice = _rich(personas)
    services_accept(alice)
    log_in(client, personas.alice)
    page = visible(client.get(reverse("portal:my-data")).content.decode())
    for english in ("(invoice)", "(payment)", "(acceptance)", "(order)", "(outbox message)"):
        assert english not in page
    from django.utils import translation

    from kluis.billing.models import Invoice
    from kluis.shop.models import Acceptance

    assert str(Invoice._meta.verbose_name) == "factuur"
    assert str(Payment._meta.verbose_name) == "betaling"
    with translation.override("en"):
        assert str(Invoice._meta.verbose_name) == "invoice"
        assert str(Acceptance._meta.verbose_name) == "acceptance of a document"


def services_accept(customer) -> None:
    from kluis.shop.models import Acceptance

    Acceptance(
        customer=customer,
        document=Acceptance.Document.AGREEMENT,
        version="2.0",
        language="nl",
        text_sha256="0" * 64,
        ip_address="192.0.2.7",
    ).save(force_insert=True)


def test_contact_person_records_are_in_the_copy_of_the_organisation_and_of_the_person(
    personas,
):
    org = make_customer(name="Bakkerij Brood B.V.", email="info@brood.example").customer
    Contact(customer=org, name="Carla Contact", email="carla@brood.example", phone="+3120").save(
        force_insert=True
    )
    # The organisation's copy holds its contact person.
    text = export_json(_export(org)).decode()
    assert "Carla Contact" in text and "carla@brood.example" in text
    # Carla is a customer herself too: her copy holds the record she is at the bakery.
    carla = make_customer(name="Carla C.", email="Carla@Brood.example").customer
    export = _export(carla)
    values = {(v["where"], v["value"]) for c in export["categories"] for v in c["values"]}
    assert ("contactpersoon", "Carla Contact") in values
    assert "Bakkerij" not in export_json(export).decode()  # not the organisation's own data


def test_a_contact_person_without_an_account_is_found_by_their_request(personas):
    org = make_customer(name="Bakkerij Brood B.V.", email="info@brood.example").customer
    contact = Contact(customer=org, name="Dirk Contact", email="dirk@brood.example")
    contact.save(force_insert=True)
    request = services.request_from_public(
        name="Dirk Contact",
        email="dirk@brood.example",
        kind="access",
        language="nl",
        client_address="192.0.2.1",
    )
    assert request is not None
    confirmed = services.request_confirm(request=request)
    assert confirmed.subject == contact.pk
    export = build_export(subject=contact.pk, actor=Actor.system("rights"), language="nl")
    assert "Dirk Contact" in export_json(export).decode()


def test_a_restriction_ends_only_after_the_person_was_told_the_notice_days_before(personas):
    import datetime as dt

    from django.utils import timezone

    from kluis.audit.models import AuditEntry
    from kluis.mail.delivery import build_email
    from kluis.rights import jobs

    days = current_policy().rights["restriction"].notice_days
    assert days == limits.restriction_notice_days() == 14
    request = alice_request(personas, "restriction")
    services.request_respond(request=request, by=personas.staff["privacy_officer"])
    (limit,) = limits.holding(personas.customer_a.pk)
    assert limit.kind == ProcessingLimit.Kind.RESTRICTION
    officer = make_staff(roles=["privacy_officer"])
    today = timezone.localdate()
    # Not sooner than the notice allows; then announced for a day 30 days ahead.
    with pytest.raises(services.RightsError, match="end_too_soon"):
        services.processing_limit_end(
            limit=limit, by=officer, ends_on=today + dt.timedelta(days=days - 1)
        )
    ends_on = today + dt.timedelta(days=30)
    assert services.processing_limit_end(limit=limit, by=officer, ends_on=ends_on) == ends_on
    with pytest.raises(services.RightsError, match="end_announced"):
        services.processing_limit_end(limit=limit, by=officer)
    mails = OutboxMessage.objects.filter(template="rights/email/restriction_end")

    def run(day: int) -> tuple[int, int]:
        done = limits.restriction_ends_run(
            notify=services.restriction_end_notify, today=today + dt.timedelta(days=day)
        )
        return done.noticed, done.lifted

    # Announcing mails nothing and lifts nothing; neither does the worker until the
    # notice day (the end minus the notice days).
    assert run(0) == run(30 - days - 1) == (0, 0) and not mails.exists()
    assert limits.holding(personas.customer_a.pk) == [limit]
    # On the notice day: one mail, however often the worker runs.
    assert run(30 - days) == (1, 0)
    assert run(30 - days) == run(29) == (0, 0)
    (mail,) = mails
    assert mail.dedupe_key == f"rights:{request.pk}:restriction_end:{limit.pk}"
    built = build_email(mail)
    assert "beperking" in built.subject
    assert f"heffen we op op {long_date(ends_on, 'nl')}" in built.body
    assert "Autoriteit Persoonsgegevens" in built.body
    # Still restricted until the day itself, then lifted once, by the worker.
    assert limits.holding(personas.customer_a.pk) == [limit]
    assert run(30) == (0, 1)
    assert limits.holding(personas.customer_a.pk) == [] and run(31) == (0, 0)
    assert mails.count() == 1
    limit.refresh_from_db()
    assert limit.ended_by == "system:rights"
    assert limit.end_noticed_at and limit.ended_at and limit.end_noticed_at < limit.ended_at
    actions = list(
        AuditEntry.objects.filter(action__startswith="rights.restriction_end").values_list(
            "action", flat=True
        )
    )
    assert actions == [
        "rights.restriction_end_announced",
        "rights.restriction_end_noticed",
        "rights.restriction_ended",
    ]
    assert jobs.restriction_ends() == "0 notices queued, 0 restrictions lifted"


def test_the_police_pages_name_categories_in_dutch_not_by_key(client, personas):
    from kluis.rights import legal_requests

    officer = personas.staff["privacy_officer"]
    police = legal_requests.police_register(
        customer=personas.customer_a,
        authority="Politie Eenheid Utrecht",
        legal_basis="art. 126nd Sv",
        order_reference="PL0900-2026-7",
        categories=["user.name", "user.contact.email", "kluis.contract_evidence_ip"],
        may_inform_subject=True,
        by=officer,
    )
    log_in(client, make_staff(roles=["privacy_officer"]))
    policy = current_policy()
    for url in (
        reverse("rights_backoffice:police"),
        reverse("rights_backoffice:police-request", kwargs={"police_id": police.pk}),
    ):
        page = visible(client.get(url).content.decode())
        assert not [k for k in policy.categories if k in page], url
    detail = visible(
        client.get(
            reverse("rights_backoffice:police-request", kwargs={"police_id": police.pk})
        ).content.decode()
    )
    for key in ("user.name", "user.contact.email", "kluis.contract_evidence_ip"):
        assert policy.categories[key].label.get("nl") in detail


def test_erasing_a_person_takes_their_contact_person_record_at_an_organisation(personas):
    from kluis.vault.errors import KeyShredded

    org = make_customer(name="Bakkerij Brood B.V.", email="info@brood.example").customer
    record = Contact(customer=org, name="Erik Contact", email="erik@brood.example")
    record.save(force_insert=True)
    other = Contact(customer=org, name="Olga Overig", email="olga@brood.example")
    other.save(force_insert=True)
    erik = make_customer(name="Erik E.", email="erik@brood.example")
    services.erasure_request_from_portal(user=erik)
    # Erik's record at the bakery is gone, row and key; nothing of him opens.
    assert not Contact.objects.filter(pk=record.pk).exists()
    with pytest.raises(KeyShredded):
        record.name.open()
    # The organisation itself and its other contact are untouched.
    assert list(Contact.objects.filter(customer=org)) == [other]
    assert Contact.objects.get(pk=other.pk).name.open() == "Olga Overig"
    text = export_json(_export(org)).decode()
    assert "Bakkerij" in text and "Olga Overig" in text and "Erik" not in text

    # Erasing the organisation takes its contact records, not what Olga, a person of
    # her own, is at another organisation.
    elsewhere = make_customer(name="Molen B.V.", email="info@molen.example").customer
    olga = Contact(customer=elsewhere, name="Olga bij de Molen", email="olga@brood.example")
    olga.save(force_insert=True)
    (bakery,) = org.users.all()
    services.erasure_request_from_portal(user=bakery)
    assert not Contact.objects.filter(customer=org).exists()
    with pytest.raises(KeyShredded):
        other.name.open()
    assert Contact.objects.get(pk=olga.pk).name.open() == "Olga bij de Molen"


def test_a_contact_person_without_an_account_is_erased_and_the_organisation_stays(
    personas,
):
    from kluis.vault.errors import KeyShredded
    from kluis.web import services as web_services
    from kluis.web.models import Question

    org = make_customer(name="Bakkerij Brood B.V.", email="info@brood.example").customer
    dirk = Contact(customer=org, name="Dirk Contact", email="dirk@brood.example", phone="+3120")
    dirk.save(force_insert=True)
    question = web_services.question_submit(
        name="Dirk Contact",
        email="Dirk@Brood.example",
        message="Wie is onze contactpersoon?",
        language="nl",
        client_address="192.0.2.10",
    )
    request = services.request_from_public(
        name="Dirk Contact",
        email="dirk@brood.example",
        kind="erasure",
        language="nl",
        client_address="192.0.2.1",
    )
    assert request is not None
    request = services.request_confirm(request=request)
    assert request.subject == dirk.pk
    services.erasure_execute(request=request, by=personas.staff["privacy_officer"].actor())
    # His record at the organisation is gone, and so is what he asked from his address.
    assert not Contact.objects.filter(pk=dirk.pk).exists()
    for value in (dirk.name, dirk.email, dirk.phone):
        with pytest.raises(KeyShredded):
            value.open()
    asked = Question.objects.get(pk=question.pk)
    assert asked.email_index is None
    with pytest.raises(KeyShredded):
        asked.message.open()
    # The organisation is intact: its record opens, its number and contract stand.
    org.refresh_from_db()
    assert org.name.open() == "Bakkerij Brood B.V."
    assert org.email.open() == "info@brood.example"
    assert not Contact.objects.filter(customer=org).exists()
