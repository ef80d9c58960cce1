"""Renewal invoices ask VIES again when the customer's last valid answer is older than
KLUIS_VIES_MAX_AGE_DAYS (90 by default), against the recorded VIES server."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kluis.billing import renewals
from kluis.billing.models import Invoice
from kluis.shop.models import VatCheck
from kluis.shop.testing import make_subscription
from kluis.shop.tests.conftest import VIES_INVALID, VIES_VALID

pytestmark = pytest.mark.django_db(databases="__all__")

D = dt.date


def _belgian_business_checked_on(personas, checked_on: dt.date) -> VatCheck:
    customer = personas.customer_a
    customer.country, customer.kind, customer.vat_number = "BE", "organisation", "BE0403019261"
    customer.save(update_fields=["country", "kind", "vat_number", "vat_index"])
    [monthly] = make_subscription(customer, started_on=D(2026, 1, 10))
    check = VatCheck(
        order=monthly.line.order,
        vat_number="BE0403019261",
        country="BE",
        result=VatCheck.Result.VALID,
        checked_at=timezone.make_aware(dt.datetime.combine(checked_on, dt.time(12))),
    )
    check.save(force_insert=True)
    return check


def _invoices() -> list[Invoice]:
    return list(Invoice.objects.filter(order__isnull=True))


def test_a_valid_answer_younger_than_90_days_is_used_without_asking_again(personas, vies):
    old = _belgian_business_checked_on(personas, D(2025, 11, 4))  # 89 days before the run
    renewals.renewals_run(today=D(2026, 2, 1))
    [invoice] = _invoices()
    assert invoice.vat_check == old and invoice.vat_scheme == Invoice.VatScheme.REVERSE_CHARGE
    assert vies.requests == []


def test_an_older_valid_answer_is_checked_again_and_the_new_one_is_the_evidence(personas, vies):
    old = _belgian_business_checked_on(personas, D(2025, 11, 1))  # 92 days before the run
    vies.answer(200, VIES_VALID)
    renewals.renewals_run(today=D(2026, 2, 1))
    [invoice] = _invoices()
    assert len(vies.requests) == 1 and vies.requests[0]["vatNumber"] == "0403019261"
    assert invoice.vat_scheme == Invoice.VatScheme.REVERSE_CHARGE
    assert invoice.vat_check != old and invoice.vat_check.result == VatCheck.Result.VALID
    assert invoice.vat_check.request_identifier == VIES_VALID["requestIdentifier"]


def test_a_number_vies_now_calls_invalid_is_charged_btw(personas, vies):
    _belgian_business_checked_on(personas, D(2025, 6, 1))
    vies.answer(200, VIES_INVALID)
    renewals.renewals_run(today=D(2026, 2, 1))
    [invoice] = _invoices()
    assert invoice.vat_scheme != Invoice.VatScheme.REVERSE_CHARGE and invoice.vat_cents > 0
    assert invoice.vat_check is None


def test_vies_not_answering_leaves_the_renewal_due_for_the_next_run(personas, vies, settings):
    _belgian_business_checked_on(personas, D(2025, 6, 1))
    vies.answer(503, None)
    run = renewals.renewals_run(today=D(2026, 2, 1))
    assert (run.invoices, run.failed) == (0, 1) and _invoices() == []
    vies.answer(200, VIES_VALID)
    assert renewals.renewals_run(today=D(2026, 2, 2)).invoices == 1
    # The age is a setting.
    settings.KLUIS_VIES_MAX_AGE_DAYS = 400
    assert renewals._vies_evidence(personas.customer_a, D(2026, 3, 1)) is not None
