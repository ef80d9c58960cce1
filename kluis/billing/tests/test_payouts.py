"""The payment provider's payout on a statement, checked against the online payments
it settles less the provider's costs, against the local provider's Settlements API."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from kluis.billing import mollie_local, payouts, services
from kluis.billing.camt_write import Tx, write_statement
from kluis.billing.jobs import billing_payout_checks
from kluis.billing.models import Invoice, OnlinePayment, Payment, PayoutCheck, Refund
from kluis.billing.statements import statement_import
from kluis.billing.tests.helpers import order_for
from kluis.billing.tests.test_ideal import _start, provider  # noqa: F401
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")


def _paid_online(client, state, invoice: Invoice) -> None:
    started = _start(client, invoice)
    state.set_status(started.provider_id, "paid")


def _payout(tmp_path, reference: str, value: str, name: str) -> PayoutCheck:
    path = write_statement(
        tmp_path,
        [Tx(name, value, name="Stichting Mollie Payments", text=f"{reference} uitbetaling")],
    )
    assert statement_import(path=path, imported_by=None).matches == {"settlement": 1}
    return PayoutCheck.objects.get(payment__entry_reference=name)


def _issued(personas, n: int) -> list[Invoice]:
    return [
        services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
        for _ in range(n)
    ]


def _cents(value: str) -> int:
    return int(value.replace(".", ""))


def test_a_payout_is_checked_against_its_payments_less_costs_and_a_difference_is_flagged(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    invoices = _issued(personas, 3)
    for invoice in invoices[:2]:
        _paid_online(client, provider.state, invoice)
    first = provider.state.settle()
    assert first is not None
    # The statement shows what the provider paid out: the two payments less their costs.
    check = _payout(tmp_path, first["reference"], first["amount"]["value"], "PAYOUT-1")
    assert check.status == PayoutCheck.Status.PENDING and check.attempts == 0
    assert billing_payout_checks() == "payouts checked: 1 matches"
    check.refresh_from_db()
    gross = sum(i.total_cents for i in invoices[:2])
    fees = 2 * provider.state.fee_cents
    assert (check.status, check.settlement_id) == (PayoutCheck.Status.MATCHES, first["id"])
    assert (check.online_cents, check.fees_cents, check.difference_cents) == (gross, fees, 0)
    assert (check.payments, check.unknown_payments, check.reason) == (2, 0, "")

    # A payout €1 short of its payment less costs: flagged, with the difference.
    _paid_online(client, provider.state, invoices[2])
    second = provider.state.settle()
    assert second is not None
    short = _cents(second["amount"]["value"]) - 100
    check = _payout(tmp_path, second["reference"], f"{short // 100}.{short % 100:02d}", "PO-2")
    # A payout the provider does not know: could not be checked, tried again later.
    unknown = _payout(tmp_path, "1182161.2611.09", "12.00", "PAYOUT-3")
    assert payouts.payout_checks_run() == {"differs": 1, "failed": 1}
    check.refresh_from_db()
    unknown.refresh_from_db()
    assert check.status == PayoutCheck.Status.DIFFERS and check.difference_cents == -100
    assert check.reason == "provider_amount,amount"
    assert (unknown.status, unknown.reason) == (PayoutCheck.Status.FAILED, "unknown_settlement")
    # Matched ones are not asked again; a failed one until MAX_ATTEMPTS.
    for _attempt in range(payouts.MAX_ATTEMPTS):
        payouts.payout_checks_run()
    unknown.refresh_from_db()
    assert unknown.attempts == payouts.MAX_ATTEMPTS
    assert PayoutCheck.objects.get(pk=check.pk).attempts == 1

    # Finance sees both on the overview, in Dutch and in English.
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:overview")).content.decode()
    assert 'data-payout="' + second["reference"] + '"' in page
    assert "De betaaldienst kent deze uitbetaling niet." in page
    assert (
        "Het bedrag op het afschrift is niet de online betalingen min de terugbetalingen, "
        "de terugboekingen en de kosten." in page
    )
    assert 'data-payout="' + first["reference"] + '"' not in page
    english = client.get(reverse("billing_backoffice:overview"), HTTP_ACCEPT_LANGUAGE="en")
    assert "The provider does not know this payout." in english.content.decode()


def _refunded_online(personas, invoice: Invoice, django_capture_on_commit_callbacks) -> Refund:
    """The invoice, paid online, credited in full and its payment refunded through the
    provider after the four-eyes approval."""
    services.credit_note_issue(invoice=invoice, issued_by=None)
    [refund] = services.credit_refunds_propose(invoice=invoice)
    assert refund.payment.match == Payment.Match.ONLINE
    services.refund_propose(refund=refund, by=personas.staff["finance"])
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_decide(
            refund=refund, by=make_staff(roles=["finance"], email="f2@winkeltjes.net"), approve=True
        )
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SENT
    return refund


def test_refunds_and_chargebacks_in_a_payout_are_explained_by_what_kluis_recorded(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
    django_capture_on_commit_callbacks,
):
    invoices = _issued(personas, 5)
    # Lists come a page of one at a time, so every list needs its `next` links.
    provider.state.page_size = 1
    for invoice in invoices[:3]:
        _paid_online(client, provider.state, invoice)
    first = provider.state.settle()
    assert first is not None
    _payout(tmp_path, first["reference"], first["amount"]["value"], "PAYOUT-1")
    # After the first payout: one of its payments is refunded through the provider, the
    # payer's bank takes €7 of another back, and two new payments come in. The next
    # payout deducts the refund and the chargeback.
    refund = _refunded_online(personas, invoices[0], django_capture_on_commit_callbacks)
    charged = OnlinePayment.objects.get(invoice=invoices[1])
    provider.state.chargeback(charged.provider_id, 700)
    for invoice in invoices[3:]:
        _paid_online(client, provider.state, invoice)
    second = provider.state.settle()
    assert second is not None
    online = invoices[3].total_cents + invoices[4].total_cents
    fees = 2 * provider.state.fee_cents
    assert _cents(second["amount"]["value"]) == online - refund.amount_cents - 700 - fees
    check = _payout(tmp_path, second["reference"], second["amount"]["value"], "PAYOUT-2")
    assert payouts.payout_checks_run() == {"matches": 2}
    check.refresh_from_db()
    assert (check.refunds, check.refunds_cents) == (1, refund.amount_cents)
    assert (check.chargebacks, check.chargebacks_cents) == (1, 700)
    assert (check.online_cents, check.fees_cents) == (online, fees)
    assert (check.difference_cents, check.reason) == (0, "")


def test_a_refund_kluis_did_not_send_or_a_chargeback_it_cannot_place_is_flagged(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    invoices = _issued(personas, 4)
    for invoice in invoices[:2]:
        _paid_online(client, provider.state, invoice)
    assert provider.state.settle() is not None
    # Refunded in the provider's dashboard (not by kluis), and a chargeback of a payment
    # kluis has no record of as paid online.
    first_id, second_id = (OnlinePayment.objects.get(invoice=i).provider_id for i in invoices[:2])
    status, _body = mollie_local.create_refund(
        provider.state, first_id, {"amount": {"currency": "EUR", "value": "5.00"}}
    )
    assert status == 201
    OnlinePayment.objects.filter(provider_id=second_id).update(payment=None)
    provider.state.chargeback(second_id, 700, notify=False)
    for invoice in invoices[2:]:
        _paid_online(client, provider.state, invoice)
    second = provider.state.settle()
    assert second is not None
    check = _payout(tmp_path, second["reference"], second["amount"]["value"], "PAYOUT-2")
    assert payouts.payout_checks_run() == {"differs": 1}
    check.refresh_from_db()
    assert check.reason == "unknown_refunds,unknown_chargebacks,amount"
    assert (check.refunds, check.chargebacks) == (1, 1)
    # Nothing kluis cannot explain is taken off: it is the difference finance sees.
    assert (check.refunds_cents, check.chargebacks_cents) == (0, 0)
    assert check.difference_cents == -(500 + 700)
    log_in(client, personas.staff["finance"])
    with translation.override("nl"):
        page = client.get(reverse("billing_backoffice:overview")).content.decode()
    assert 'data-payout="' + second["reference"] + '"' in page
    assert "Er zijn terugbetalingen afgetrokken die hier niet als via de betaaldienst" in page
