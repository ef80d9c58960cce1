"""The evidence of an OSS customer's country is kept 10 years, apart from the invoice's 7."""

from __future__ import annotations

import pytest

from kluis.billing import services
from kluis.billing.models import OssEvidence
from kluis.billing.tests.helpers import order_for
from kluis.policy.loader import current_policy
from kluis.vault.models import DataKey

pytestmark = pytest.mark.django_db(databases="__all__")


def test_an_oss_invoice_keeps_the_address_as_evidence_under_its_own_ten_year_class(
    personas, settings
):
    settings.KLUIS_OSS_ABOVE_THRESHOLD = True
    invoice = services.invoice_issue(
        order=order_for(personas.customer_b, country="BE"), issued_by=None
    )
    assert invoice.vat_scheme == invoice.VatScheme.OSS
    evidence = OssEvidence.objects.get(invoice=invoice)
    assert evidence.country == "BE"
    assert evidence.street.category == "user.contact.address"
    scope = type(evidence)._meta.get_field("street").scope_for(evidence)
    assert (scope.retention_class, scope.period) == ("oss_evidence", str(invoice.issue_date.year))
    assert DataKey.objects.filter(
        retention_class="oss_evidence", period=str(invoice.issue_date.year)
    ).exists()
    rule = current_policy().retention["oss_evidence"]
    assert rule.duration.years == 10 and rule.legal_duty and rule.per_fiscal_year


def test_a_dutch_invoice_keeps_no_oss_evidence(personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_b), issued_by=None)
    assert not OssEvidence.objects.filter(invoice=invoice).exists()
