"""A chargeback of an online payment reopens its invoice, against the local provider
that reports chargebacks as Mollie's API does (the payment stays `paid`, shows
`amountChargedBack`, lists them under /v2/payments/{id}/chargebacks, calls the webhook)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from kluis.audit.models import AuditEntry
from kluis.billing import chargebacks, dunning, emails, mollie, payouts, services
from kluis.billing.models import (
    Chargeback,
    Invoice,
    OnlinePayment,
    Payment,
    PayoutCheck,
    Refund,
    Reminder,
)
from kluis.billing.tests.helpers import order_for
from kluis.billing.tests.test_ideal import _start, _webhook, provider  # noqa: F401
from kluis.billing.tests.test_payouts import _payout
from kluis.mail.delivery import render_mail
from kluis.mail.models import OutboxMessage
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _paid_online(client, state, personas, *, language: str = "nl") -> tuple[Invoice, str]:
    invoice = services.invoice_issue(
        order=order_for(personas.customer_a, language=language), issued_by=None
    )
    started = _start(client, invoice)
    state.set_status(started.provider_id, "paid")
    invoice.refresh_from_db()
    assert invoice.is_paid
    return invoice, started.provider_id


def _mails() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(template=emails.CHARGEBACK))


def test_a_chargeback_reopens_the_invoice_once_keeps_the_payment_and_mails_once(
    client,
    personas,
    provider,  # noqa: F811
):
    invoice, provider_id = _paid_online(client, provider.state, personas)
    payment = Payment.objects.get(invoice=invoice)
    calls = len(provider.state.webhook_calls)
    # The payer's bank takes €7 back: Mollie keeps the payment paid, shows the amount
    # charged back and calls the webhook, which lists the payment's chargebacks.
    remote = provider.state.chargeback(provider_id, 700)
    assert [c.status for c in provider.state.webhook_calls[calls:]] == [200]
    assert provider.state.payments[provider_id]["status"] == "paid"
    assert mollie.payment_get(provider_id).charged_back_cents == 700
    [chargeback] = Chargeback.objects.all()
    assert (chargeback.provider_id, chargeback.amount_cents) == (remote["id"], 700)
    assert (chargeback.payment_id, chargeback.invoice_id) == (payment.pk, invoice.pk)
    assert chargeback.reason_code == "MD06" and chargeback.open_cents == 700
    assert chargeback.pay_by == timezone.localdate() + dt.timedelta(
        days=chargebacks.CHARGEBACK_TERM_DAYS
    )
    # The payment is never deleted nor changed: the reversal is its own entry.
    kept = Payment.objects.get(pk=payment.pk)
    assert (kept.amount_cents, kept.invoice_id) == (invoice.total_cents, invoice.pk)
    invoice.refresh_from_db()
    assert invoice.open_cents == 700 and not invoice.is_paid and invoice.paid_at is None
    assert invoice.is_payable  # the iDEAL link and the portal take it again
    # Exactly one mail, one audit entry; the same webhook again (and a bare replay of
    # its body) changes nothing.
    for _ in range(3):
        assert _webhook(client, f"id={provider_id}").status_code == 200
    assert chargebacks.chargebacks_sync(OnlinePayment.objects.get(provider_id=provider_id)) == []
    assert Chargeback.objects.count() == 1 and len(_mails()) == 1
    assert AuditEntry.objects.filter(action="billing.chargeback_received").count() == 1
    invoice.refresh_from_db()
    assert invoice.open_cents == 700
    [message] = _mails()
    assert message.to_subject == invoice.customer_id and message.language == "nl"
    context = emails._chargeback_context(message.context, emails.MAILER)
    mail = render_mail(template=emails.CHARGEBACK, language="nl", context=context)
    assert mail.subject == f"Je betaling van factuur {invoice.number} is teruggeboekt"
    assert "€ 7,00" in mail.text and invoice.payment_reference in mail.text
    assert "Betalen met iDEAL" in mail.text and "/betalen/" in context["ideal_url"]
    for forbidden in (" u ", " uw "):
        assert forbidden not in f" {mail.text.lower()} "
    # Finance sees it on the overview.
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:overview")).content.decode()
    assert f'data-chargeback="{remote["id"]}"' in page
    assert "Terugboekingen van online betalingen" in page


def test_the_mail_is_in_english_for_an_english_invoice(
    client,
    personas,
    provider,  # noqa: F811
):
    invoice, provider_id = _paid_online(client, provider.state, personas, language="en")
    provider.state.chargeback(provider_id)
    [message] = _mails()
    assert message.language == "en"
    with translation.override("en"):  # as the delivery words the loader's context
        context = emails._chargeback_context(message.context, emails.MAILER)
    mail = render_mail(template=emails.CHARGEBACK, language="en", context=context)
    assert mail.subject == f"Your payment of invoice {invoice.number} was reversed"
    assert "Your bank took" in mail.text and "Please pay it by" in mail.text
    assert invoice.payment_reference in mail.text and "December" in mail.text
    invoice.refresh_from_db()
    assert invoice.open_cents == invoice.total_cents


def test_reminders_wait_for_the_term_the_chargeback_mail_gives(
    client,
    personas,
    provider,  # noqa: F811
    settings,
):
    settings.KLUIS_PAYMENT_TERM_DAYS = 3
    settings.KLUIS_REMINDER_DAYS = [7, 21]
    invoice, provider_id = _paid_online(client, provider.state, personas)
    unpaid = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    assert unpaid.due_date == invoice.due_date
    provider.state.chargeback(provider_id)
    [chargeback] = Chargeback.objects.all()
    assert chargeback.pay_by > invoice.due_date
    # Eight days after the due date an ordinary unpaid invoice gets its first reminder;
    # the reopened one waits until its new term has ended.
    day = invoice.due_date + dt.timedelta(days=8)
    assert day <= chargeback.pay_by
    dunning.dunning_run(today=day)
    assert list(Reminder.objects.values_list("invoice_id", flat=True)) == [unpaid.pk]
    # Counted from the chargeback's date, the schedule then goes on as usual.
    dunning.dunning_run(today=chargeback.pay_by + dt.timedelta(days=6))
    assert not Reminder.objects.filter(invoice=invoice).exists()
    dunning.dunning_run(today=chargeback.pay_by + dt.timedelta(days=7))
    [reminder] = Reminder.objects.filter(invoice=invoice)
    assert reminder.stage == "reminder_1" and reminder.open_cents == invoice.total_cents


def test_a_chargeback_whose_webhook_was_lost_is_found_by_the_payout_check(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    invoice, provider_id = _paid_online(client, provider.state, personas)
    first = provider.state.settle()
    assert first is not None
    provider.state.chargeback(provider_id, 500, notify=False)
    assert not Chargeback.objects.exists()
    # The next payout holds a new payment, less the chargeback.
    _paid_online(client, provider.state, personas)
    second = provider.state.settle()
    assert second is not None
    check = _payout(tmp_path, second["reference"], second["amount"]["value"], "PAYOUT-CB")
    assert payouts.payout_checks_run() == {"matches": 1}
    check.refresh_from_db()
    assert (check.status, check.chargebacks_cents) == (PayoutCheck.Status.MATCHES, 500)
    [chargeback] = Chargeback.objects.all()
    assert chargeback.amount_cents == 500
    invoice.refresh_from_db()
    assert invoice.open_cents == 500 and len(_mails()) == 1
    # The webhook arriving after all, and the check run again, add nothing.
    provider.state.call_webhook(provider_id, provider.state.payments[provider_id]["webhookUrl"])
    payouts.payout_check(check)
    assert Chargeback.objects.count() == 1 and len(_mails()) == 1
    invoice.refresh_from_db()
    assert invoice.open_cents == 500


def test_a_reversed_chargeback_pays_the_invoice_again_and_a_second_payment_is_refunded(
    client,
    personas,
    provider,  # noqa: F811
):
    invoice, provider_id = _paid_online(client, provider.state, personas)
    remote = provider.state.chargeback(provider_id)
    invoice.refresh_from_db()
    assert invoice.open_cents == invoice.total_cents
    # The customer pays again after the mail, online.
    again = _start(client, invoice)
    provider.state.set_status(again.provider_id, "paid")
    invoice.refresh_from_db()
    assert invoice.is_paid and not Refund.objects.exists()
    # Then the payer's bank withdraws its chargeback: the first payment counts again,
    # so the invoice is paid twice over and that is proposed for refund.
    provider.state.chargeback_reverse(remote["id"])
    chargeback = Chargeback.objects.get()
    assert chargeback.status == Chargeback.Status.REVERSED and chargeback.reversed_at
    invoice.refresh_from_db()
    assert invoice.paid_cents == 2 * invoice.total_cents and invoice.is_paid
    [refund] = Refund.objects.all()
    assert refund.amount_cents == invoice.total_cents and refund.status == Refund.Status.PROPOSED
    assert refund.payment_id == chargeback.payment_id
    # Again: nothing more.
    for _ in range(2):
        assert _webhook(client, f"id={provider_id}").status_code == 200
    assert Refund.objects.count() == 1 and len(_mails()) == 1
    assert AuditEntry.objects.filter(action="billing.chargeback_reversed").count() == 1


def test_a_reversal_alone_makes_the_invoice_paid_again_and_closes_its_reminders(
    client,
    personas,
    provider,  # noqa: F811
):
    invoice, provider_id = _paid_online(client, provider.state, personas)
    remote = provider.state.chargeback(provider_id)
    chargeback = Chargeback.objects.get()
    day = chargeback.pay_by + dt.timedelta(days=30)
    dunning.dunning_run(today=day)
    [reminder] = Reminder.objects.filter(invoice=invoice, closed_at__isnull=True)
    provider.state.chargeback_reverse(remote["id"])
    invoice.refresh_from_db()
    assert invoice.is_paid and invoice.paid_at is not None and invoice.open_cents == 0
    assert Reminder.objects.get(pk=reminder.pk).closed_at is not None
    assert not Refund.objects.exists()
    dunning.dunning_run(today=day + dt.timedelta(days=30))
    assert Reminder.objects.filter(invoice=invoice).count() == 1


def test_a_chargeback_reversed_before_kluis_heard_of_it_changes_nothing(
    client,
    personas,
    provider,  # noqa: F811
):
    invoice, provider_id = _paid_online(client, provider.state, personas)
    remote = provider.state.chargeback(provider_id, notify=False)
    provider.state.chargeback_reverse(remote["id"])
    assert provider.state.payments[provider_id]["amountChargedBack"]["value"] == "0.00"
    assert not Chargeback.objects.exists() and not _mails()
    invoice.refresh_from_db()
    assert invoice.is_paid


def test_a_chargeback_of_more_than_is_left_of_the_payment_is_not_recorded(
    client,
    personas,
    provider,  # noqa: F811
):
    invoice, provider_id = _paid_online(client, provider.state, personas)
    online = OnlinePayment.objects.get(provider_id=provider_id)
    too_much = mollie.ProviderChargeback(
        id="chb_TooMuch1",
        payment_id=provider_id,
        amount_cents=invoice.total_cents + 1,
        reason_code="MD06",
        created_at=timezone.now(),
        reversed_at=None,
    )
    assert chargebacks.chargeback_record(online_pk=online.pk, item=too_much) is None
    assert not Chargeback.objects.exists()
    invoice.refresh_from_db()
    assert invoice.is_paid


def test_a_chargeback_of_a_payment_kluis_did_not_record_is_left_to_the_payout_check(
    client,
    personas,
    provider,  # noqa: F811
):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    started = _start(client, invoice)
    # Unknown ids are never fetched; a started payment not paid has no chargebacks to ask.
    assert not chargebacks.chargebacks_sync(started)
    assert not Chargeback.objects.exists()
