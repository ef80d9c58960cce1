"""The payment provider's payout on a statement, checked against the online payments
it settles less the provider's costs, against the local provider's Settlements API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kluis.billing import payouts, services
from kluis.billing.camt_write import Tx, write_statement
from kluis.billing.jobs import billing_payout_checks
from kluis.billing.models import Invoice, PayoutCheck
from kluis.billing.statements import statement_import
from kluis.billing.tests.helpers import order_for
from kluis.billing.tests.test_ideal import _start, provider  # noqa: F401
from kluis.testing import log_in

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


def _cents(value: str) -> int:
    return int(value.replace(".", ""))


def test_a_payout_is_checked_against_its_payments_less_costs_and_a_difference_is_flagged(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    invoices = [
        services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
        for _ in range(3)
    ]
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
    assert "Het bedrag op het afschrift is niet de online betalingen min de kosten." in page
    assert 'data-payout="' + first["reference"] + '"' not in page
    english = client.get(reverse("billing_backoffice:overview"), HTTP_ACCEPT_LANGUAGE="en")
    assert "The provider does not know this payout." in english.content.decode()
