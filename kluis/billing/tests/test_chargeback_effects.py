"""What a chargeback does beyond reopening its invoice: a mail that cannot go is held,
not the chargeback; refunds the money no longer covers are stopped; the payments lists
show it beside the payment; the order stays delivered and its invoice is dunned."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from kluis.audit.models import AuditEntry
from kluis.billing import chargebacks, dunning, mollie, online, services, statements
from kluis.billing.camt_write import Tx, write_statement
from kluis.billing.models import Chargeback, Invoice, OnlinePayment, Refund, Reminder
from kluis.billing.tests.helpers import order_for
from kluis.billing.tests.test_chargebacks import _mails, _paid_online
from kluis.billing.tests.test_ideal import provider  # noqa: F401
from kluis.formats import euro
from kluis.mail.models import OutboxMessage
from kluis.shop.models import Order
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")


def _euro(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _pay_by_bank(tmp_path, invoice: Invoice, cents: int, ref: str, by=None) -> None:
    """The customer pays (again) by bank transfer: a statement line with the kenmerk."""
    tx = Tx(ref, _euro(cents), kenmerk=invoice.payment_reference, name="Alice de Vries")
    statements.statement_import(
        path=write_statement(tmp_path, [tx], name=f"{ref}.xml"), imported_by=by
    )


def _charge_back(provider_id: str, cents: int, ident: str = "chb_Effects1") -> Chargeback:
    """The webhook's path, with a chargeback of our choosing (fixed id and date)."""
    item = mollie.ProviderChargeback(
        id=ident,
        payment_id=provider_id,
        amount_cents=cents,
        reason_code="MD06",
        created_at=timezone.now(),
        reversed_at=None,
    )
    paid = OnlinePayment.objects.get(provider_id=provider_id)
    recorded = chargebacks.chargeback_record(online_pk=paid.pk, item=item)
    assert recorded is not None
    return recorded


# --- the mail that cannot go ---------------------------------------------------------------


def test_an_erased_customers_chargeback_is_recorded_and_its_mail_held(
    client,
    personas,
    provider,  # noqa: F811
):
    from kluis.rights import services as rights_services

    invoice, provider_id = _paid_online(client, provider.state, personas)
    assert invoice.order is not None
    Order.objects.filter(pk=invoice.order.pk).update(status=Order.Status.DELIVERED)
    # Paid and delivered: nothing holds the erasure back; the address's key is shredded,
    # the invoice and the payment are kept for the tax years.
    rights_services.erasure_request_from_portal(user=personas.alice)
    provider.state.chargeback(provider_id, 700)
    # The money fact is recorded all the same: the invoice is open again.
    [chargeback] = Chargeback.objects.all()
    assert chargeback.amount_cents == 700
    assert chargeback.mail_held == Chargeback.MailHeld.ERASED
    invoice.refresh_from_db()
    assert invoice.open_cents == 700 and invoice.paid_at is None
    assert not _mails()
    assert AuditEntry.objects.filter(action="billing.chargeback_received").count() == 1
    [held] = AuditEntry.objects.filter(action="billing.chargeback_mail_held")
    assert chargeback.provider_id in held.payload and '"erased"' in held.payload
    # Finance's overview says the customer was not mailed.
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:overview")).content.decode()
    assert "Niet gemaild" in page and "de klant is gewist" in page
    # The daily reminders cannot mail them either: held, and the run goes on for the
    # others (an ordinary overdue invoice of another customer gets its reminder).
    other = services.invoice_issue(order=order_for(personas.customer_b), issued_by=None)
    day = max(chargeback.pay_by, other.due_date) + dt.timedelta(days=7)
    result = dunning.dunning_run(today=day)
    assert (result.held, result.sent) == (1, {"reminder_1": 1})
    assert list(Reminder.objects.values_list("invoice_id", flat=True)) == [other.pk]
    [state] = [s for s in dunning.overdue_standings(day) if s.invoice == invoice]
    assert state.next_due and state.next_stage == "reminder_1"


def _charged_back_while_limited(
    client, personas, running, objection: list[str]
) -> tuple[Invoice, Chargeback]:
    """A chargeback of 7,00 while the customer restricted processing (no purposes) or
    objected to the purposes given."""
    from kluis.rights.models import ProcessingLimit

    invoice, provider_id = _paid_online(client, running.state, personas)
    kind = ProcessingLimit.Kind.OBJECTION if objection else ProcessingLimit.Kind.RESTRICTION
    ProcessingLimit.objects.create(
        subject=invoice.customer_id, kind=kind, purposes=objection, started_by="staff:test"
    )
    running.state.chargeback(provider_id, 700)
    [chargeback] = Chargeback.objects.all()
    return invoice, chargeback


def test_a_restricted_customer_is_still_mailed_invoicing_goes_on_during_a_restriction(
    client,
    personas,
    provider,  # noqa: F811
):
    # The policy marks invoicing `during_restriction` (a legal obligation): the vault
    # opens the address for it, so the chargeback mail goes as for anyone.
    _invoice, chargeback = _charged_back_while_limited(client, personas, provider, [])
    assert chargeback.mail_held == ""
    assert len(_mails()) == 1
    assert not AuditEntry.objects.filter(action="billing.chargeback_mail_held").exists()


def test_a_refused_reveal_holds_the_mail_and_staff_are_told_to_use_the_request_channel(
    client,
    personas,
    provider,  # noqa: F811
):
    # An upheld objection naming the invoicing purpose refuses the reveal: the mail is
    # held and the chargeback recorded, and the overview tells staff how to reach them.
    invoice, chargeback = _charged_back_while_limited(client, personas, provider, ["invoicing"])
    assert chargeback.mail_held == Chargeback.MailHeld.REFUSED
    assert not _mails()
    [held] = AuditEntry.objects.filter(action="billing.chargeback_mail_held")
    assert "art. 21" in held.payload
    assert AuditEntry.objects.filter(
        action="vault.reveal_refused", subject=invoice.customer_id
    ).exists()
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:overview")).content.decode()
    assert "via het kanaal waarlangs die de beperking of het bezwaar vroeg" in page


# --- refunds the money no longer covers ----------------------------------------------------


def test_a_proposed_refund_of_an_overpayment_is_cancelled_by_the_chargeback(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    invoice, provider_id = _paid_online(client, provider.state, personas)
    total = invoice.total_cents
    # Paid again by bank: the second payment is proposed for refund.
    _pay_by_bank(tmp_path, invoice, total, "E1", by=personas.staff["finance"])
    [refund] = Refund.objects.all()
    assert (refund.amount_cents, refund.status) == (total, Refund.Status.PROPOSED)
    # The first payment is charged back: the invoice is paid once, nothing is over.
    _charge_back(provider_id, total)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.REJECTED
    assert refund.held_reason == Refund.CHARGEBACK and refund.decided_at is not None
    [audit] = AuditEntry.objects.filter(action="billing.refund_cancelled")
    assert "chb_Effects1" in audit.payload and '"proposed"' in audit.payload
    invoice.refresh_from_db()
    assert invoice.paid_cents == total and invoice.is_paid
    # Finance sees why on the refunds page; nothing is left to decide.
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:refunds")).content.decode()
    assert f'data-refund="{refund.pk}"' in page and "vervallen door de terugboeking" in page
    assert "Geen open terugbetalingen." in page


def test_only_the_refunds_the_money_left_no_longer_covers_are_cancelled(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    invoice, provider_id = _paid_online(client, provider.state, personas)
    total = invoice.total_cents
    _pay_by_bank(tmp_path, invoice, total, "E1")
    _pay_by_bank(tmp_path, invoice, total, "E2")
    first, second = Refund.objects.order_by("created_at", "pk")
    # 5,00 taken back: 2 x total - 5,00 is still over; the older refund fits in it.
    _charge_back(provider_id, 500)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.held_reason) == (Refund.Status.PROPOSED, "")
    assert (second.status, second.held_reason) == (Refund.Status.REJECTED, Refund.CHARGEBACK)


def test_an_approved_refund_is_held_out_of_the_payment_file_and_an_exported_one_flagged(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    invoice, provider_id = _paid_online(client, provider.state, personas)
    total = invoice.total_cents
    second = make_staff(roles=["finance"])
    _pay_by_bank(tmp_path, invoice, total, "E1", by=personas.staff["finance"])
    _pay_by_bank(tmp_path, invoice, total, "E2", by=personas.staff["finance"])
    exported, approved = Refund.objects.order_by("created_at", "pk")
    services.refund_decide(refund=exported, by=second, approve=True)
    services.refunds_export(by=second)
    services.refund_decide(refund=approved, by=second, approve=True)
    # The whole online payment is taken back: one total is still over, and the refund
    # already in a payment file takes it; the approved one no longer fits.
    _charge_back(provider_id, total)
    exported.refresh_from_db()
    approved.refresh_from_db()
    assert (exported.status, exported.held_reason) == (Refund.Status.EXPORTED, "")
    assert (approved.status, approved.held_reason) == (Refund.Status.APPROVED, Refund.CHARGEBACK)
    assert AuditEntry.objects.filter(action="billing.refund_held").count() == 1
    # It stays out of the next payment file, with its reason on the page.
    with pytest.raises(services.BillingError) as nothing:
        services.refunds_export(by=second)
    assert nothing.value.code == "nothing_to_export"
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:refunds")).content.decode()
    assert "de bank heeft de betaling teruggeboekt, het geld is er niet meer" in page


def test_a_refund_already_in_a_payment_file_is_flagged_not_changed(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    invoice, provider_id = _paid_online(client, provider.state, personas)
    second = make_staff(roles=["finance"])
    _pay_by_bank(tmp_path, invoice, invoice.total_cents, "E1", by=personas.staff["finance"])
    [exported] = Refund.objects.all()
    services.refund_decide(refund=exported, by=second, approve=True)
    export, _xml = services.refunds_export(by=second)
    # The online payment is taken back: nothing is over, but the file may have been
    # paid already; the refund keeps its status and file, and finance is told.
    _charge_back(provider_id, invoice.total_cents)
    exported.refresh_from_db()
    assert (exported.status, exported.held_reason) == (Refund.Status.EXPORTED, Refund.CHARGEBACK)
    [flag] = AuditEntry.objects.filter(action="billing.refund_flagged")
    assert '"exported"' in flag.payload
    assert exported.export == export
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:refunds")).content.decode()
    assert f'data-refund="{exported.pk}"' in page and "betaling teruggeboekt: controleren" in page


def test_an_approved_refund_of_an_online_payment_is_not_sent_to_the_provider(
    client,
    personas,
    provider,  # noqa: F811
):
    invoice, provider_id = _paid_online(client, provider.state, personas)
    # An approved refund of the online payment, not sent yet (the provider refused it
    # the first time, say); then the bank takes 3,00 back: nothing is over any more.
    payment = OnlinePayment.objects.get(provider_id=provider_id).payment
    assert payment is not None
    refund = Refund.objects.create(
        invoice=invoice,
        payment=payment,
        amount_cents=300,
        status=Refund.Status.APPROVED,
        proposed_by=personas.staff["finance"],
        approved_by=make_staff(roles=["finance"]),
    )
    _charge_back(provider_id, 300, ident="chb_Effects2")
    refund.refresh_from_db()
    assert refund.held_reason == Refund.CHARGEBACK
    assert online.provider_refunds_send() == 0
    refund.refresh_from_db()
    assert refund.status == Refund.Status.APPROVED and not refund.provider_refund_id


# --- the payments lists -------------------------------------------------------------------


def test_the_portal_and_the_api_show_the_chargeback_and_its_reversal_beside_the_payment(
    client,
    personas,
    provider,  # noqa: F811
):
    from kluis.api.testing import bearer, token_for

    invoice, provider_id = _paid_online(client, provider.state, personas)
    remote = provider.state.chargeback(provider_id, 700)
    chargeback = Chargeback.objects.get()
    today = timezone.localdate()
    log_in(client, personas.alice)
    page = client.get(reverse("billing_portal:invoices")).content.decode()
    assert f'data-chargeback="{chargeback.pk}"' in page
    assert f"{euro(-700)} · Teruggeboekt door je bank" in page
    assert "Terugboeking ingetrokken" not in page

    token = token_for(personas.alice, ["invoices:read"])
    url = f"/api/v1/invoices/{invoice.pk}/payments"
    rows = json.loads(client.get(url, **bearer(token)).content)
    assert [(r["kind"], r["amount_cents"], r["status"]) for r in rows] == [
        ("payment", invoice.total_cents, "received"),
        ("chargeback", -700, "received"),
    ]
    assert rows[1]["date"] == today.isoformat() and rows[1]["invoice"] == invoice.number

    provider.state.chargeback_reverse(remote["id"])
    page = client.get(reverse("billing_portal:invoices")).content.decode()
    assert "€ 7,00 · Terugboeking ingetrokken door je bank: weer betaald" in page
    rows = json.loads(client.get(url, **bearer(token)).content)
    assert [(r["kind"], r["amount_cents"], r["status"]) for r in rows] == [
        ("payment", invoice.total_cents, "received"),
        ("chargeback", -700, "reversed"),
        ("chargeback_reversal", 700, "received"),
    ]
    everything = json.loads(client.get("/api/v1/payments", **bearer(token)).content)
    assert [r["kind"] for r in everything] == ["payment", "chargeback", "chargeback_reversal"]


def test_the_portal_shows_the_chargeback_in_english(
    client,
    personas,
    provider,  # noqa: F811
):
    _invoice, provider_id = _paid_online(client, provider.state, personas)
    provider.state.chargeback(provider_id, 700)
    log_in(client, personas.alice)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("billing_portal:invoices"), HTTP_ACCEPT_LANGUAGE="en")
    text = page.content.decode()
    assert "Taken back by your bank" in text and "Teruggeboekt" not in text


# --- the order stays delivered; the invoice is dunned ------------------------------------


def test_a_delivered_orders_reopened_invoice_runs_the_whole_dunning_schedule(
    client,
    personas,
    provider,  # noqa: F811
    settings,
):
    settings.KLUIS_REMINDER_DAYS = [7, 21]
    invoice, provider_id = _paid_online(client, provider.state, personas)
    order = invoice.order
    assert order is not None
    Order.objects.filter(pk=order.pk).update(status=Order.Status.DELIVERED)
    provider.state.chargeback(provider_id)
    chargeback = Chargeback.objects.get()
    assert chargeback.pay_by == timezone.localdate() + dt.timedelta(
        days=chargebacks.chargeback_term_days()
    )
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    # From the date the mail gave: reminder 1, reminder 2, the statutory letter (a
    # consumer), and then collections, as any unpaid invoice.
    day = chargeback.pay_by
    dunning.dunning_run(today=day)
    assert not Reminder.objects.exists()
    dunning.dunning_run(today=day + dt.timedelta(days=7))
    dunning.dunning_run(today=day + dt.timedelta(days=21))
    last = Reminder.objects.get(invoice=invoice, stage="reminder_2")
    dunning.dunning_run(today=last.pay_by + dt.timedelta(days=1))
    letter = Reminder.objects.get(invoice=invoice, stage=Reminder.STATUTORY_LETTER)
    assert letter.open_cents == invoice.total_cents
    [state] = dunning.overdue_standings(letter.pay_by + dt.timedelta(days=1))
    assert state.invoice == invoice and state.eligible
    assert list(Reminder.objects.values_list("stage", flat=True)) == [
        "reminder_1",
        "reminder_2",
        "statutory_letter",
    ]
    assert OutboxMessage.objects.filter(template="billing/email/reminder").count() == 2


def test_the_usual_payment_term_is_the_least_the_chargeback_mail_gives(
    client,
    personas,
    provider,  # noqa: F811
    settings,
):
    settings.KLUIS_PAYMENT_TERM_DAYS = 30
    _invoice, provider_id = _paid_online(client, provider.state, personas)
    provider.state.chargeback(provider_id)
    assert Chargeback.objects.get().pay_by == timezone.localdate() + dt.timedelta(days=30)


def test_the_orders_desk_shows_the_chargeback_of_the_order(
    client,
    personas,
    provider,  # noqa: F811
):
    invoice, provider_id = _paid_online(client, provider.state, personas)
    order = invoice.order
    assert order is not None
    Order.objects.filter(pk=order.pk).update(status=Order.Status.DELIVERED)
    remote = provider.state.chargeback(provider_id, 700)
    log_in(client, personas.staff["orders"])
    listing = client.get(reverse("shop_backoffice:orders")).content.decode()
    assert "betaling teruggeboekt" in listing
    page = client.get(reverse("shop_backoffice:order", kwargs={"order_id": order.pk}))
    text = page.content.decode()
    assert f'data-chargeback="{remote["id"]}"' in text
    assert "De bestelling blijft zoals ze is" in text and "nog € 7,00 open" in text
    log_in(client, personas.staff["finance"])
    overview = client.get(reverse("billing_backoffice:overview")).content.decode()
    assert f"bestelling {order.number}" in overview
    # Withdrawn by the bank: the list no longer marks the order.
    provider.state.chargeback_reverse(remote["id"])
    log_in(client, personas.staff["orders"])
    listing = client.get(reverse("shop_backoffice:orders")).content.decode()
    assert "betaling teruggeboekt" not in listing
