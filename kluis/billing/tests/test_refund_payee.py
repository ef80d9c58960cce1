"""Refunds that cannot wedge: an account finance enters (four eyes), one refund that
cannot be paid never holds back the others, and no page answers with an error 500."""

from __future__ import annotations

import pytest
from django.urls import reverse
from lxml import etree  # type: ignore[import-untyped]

from kluis.billing import services, statements
from kluis.billing.camt_write import Tx, statement_xml
from kluis.billing.models import Payment, Refund
from kluis.billing.tests.helpers import order_for
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
BANK_IBAN = "<DbtrAcct><Id><IBAN>NL02ABNA0123456789</IBAN></Id></DbtrAcct>"


def _euro(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _overpay(tmp_path, customer, by, *, reference: str, iban: str | None = "NL02ABNA0123456789"):
    """An invoice of `customer`, overpaid by € 5.00 from `iban` (None: the bank gave none)."""
    invoice = services.invoice_issue(order=order_for(customer), issued_by=None)
    tx = Tx(
        reference,
        _euro(invoice.total_cents + 500),
        kenmerk=invoice.payment_reference,
        iban=iban or "NL02ABNA0123456789",
    )
    xml = statement_xml([tx], message_id=reference)
    if iban is None:
        xml = xml.replace(BANK_IBAN, "")
    path = tmp_path / f"{reference}.xml"
    path.write_text(xml, encoding="utf-8")
    statements.statement_import(path=path, imported_by=by)
    return Refund.objects.get(invoice=invoice)


@pytest.fixture
def finance(personas):
    return personas.staff["finance"], make_staff(roles=["finance"])


def test_one_approved_refund_without_an_iban_never_blocks_the_export_of_the_others(
    tmp_path, personas, finance, client
):
    first, second = finance
    good = _overpay(tmp_path, personas.customer_a, first, reference="E-GOOD")
    bad = _overpay(tmp_path, personas.customer_b, first, reference="E-BAD", iban=None)
    services.refund_decide(refund=good, by=second, approve=True)
    # An approval given before an account was required (or by any other path).
    Refund.objects.filter(pk=bad.pk).update(status=Refund.Status.APPROVED, approved_by=second)

    log_in(client, second)
    response = client.post(reverse("billing_backoffice:refunds-export"))
    assert response.status_code == 200
    doc = etree.fromstring(response.content)
    assert doc.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=NS) == "1"
    assert doc.findtext(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == "NL02ABNA0123456789"
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == Refund.Status.EXPORTED
    assert (bad.status, bad.held_reason) == (Refund.Status.APPROVED, "iban_missing")
    page = client.get(reverse("billing_backoffice:refunds")).content.decode()
    assert "geen IBAN: vul het in" in page
    # Exporting again: nothing else to pay, a message and no error.
    again = client.post(reverse("billing_backoffice:refunds-export"), follow=True)
    assert again.status_code == 200
    assert "elke goedgekeurde terugbetaling is tegengehouden" in again.content.decode()


def test_a_refund_without_payer_iban_is_proposed_only_with_one_finance_enters(
    tmp_path, personas, finance, client
):
    first, second = finance
    refund = _overpay(tmp_path, personas.customer_a, first, reference="E1", iban=None)
    assert Payment.objects.get().iban is None
    with pytest.raises(services.BillingError) as refused:
        services.refund_decide(refund=refund, by=second, approve=True)
    assert refused.value.code == "iban_missing"

    log_in(client, first)
    url = reverse("billing_backoffice:refund-payee", kwargs={"refund_id": refund.pk})
    # A bad checksum is refused, in Dutch, and nothing is stored.
    response = client.post(url, {"iban": "NL03ABNA0123456789", "name": "A. de Vries"}, follow=True)
    assert response.status_code == 200
    assert "Dit IBAN klopt niet" in response.content.decode()
    assert Payment.objects.get().iban is None
    response = client.post(url, {"iban": "nl02 abna 0123 4567 89", "name": ""}, follow=True)
    assert response.status_code == 200
    refund.refresh_from_db()
    assert (refund.proposed_by, refund.payee_entered_by) == (first, first)
    # The one who entered the account cannot approve it; the second user can.
    with pytest.raises(services.BillingError) as refused:
        services.refund_decide(refund=refund, by=first, approve=True)
    assert refused.value.code == "four_eyes"
    services.refund_decide(refund=refund, by=second, approve=True)
    _export, xml = services.refunds_export(by=second)
    doc = etree.fromstring(xml)
    assert doc.findtext(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == "NL02ABNA0123456789"
    assert doc.findtext(".//p:Cdtr/p:Nm", namespaces=NS) == "A. de Vries"


def test_an_account_entered_after_approval_needs_approval_again(tmp_path, personas, finance):
    first, second = finance
    refund = _overpay(tmp_path, personas.customer_a, first, reference="E1")
    services.refund_decide(refund=refund, by=second, approve=True)
    refund = services.refund_payee_set(
        refund=refund, by=second, iban="NL91ABNA0417164300", name="B. Jansen"
    )
    assert (refund.status, refund.proposed_by, refund.approved_by) == ("proposed", second, None)
    with pytest.raises(services.BillingError):
        services.refunds_export(by=first)
    services.refund_decide(refund=refund, by=first, approve=True)
    export, _xml = services.refunds_export(by=first)
    assert export.count == 1


def test_a_bad_account_from_the_bank_is_held_back_with_its_reason(tmp_path, personas, finance):
    first, second = finance
    good = _overpay(tmp_path, personas.customer_a, first, reference="E-GOOD")
    bad = _overpay(
        tmp_path, personas.customer_b, first, reference="E-BAD", iban="NL00ABNA0123456789"
    )
    for refund in (good, bad):
        services.refund_decide(refund=refund, by=second, approve=True)
    export, _xml = services.refunds_export(by=second)
    assert export.count == 1
    bad.refresh_from_db()
    assert (bad.status, bad.held_reason) == (Refund.Status.APPROVED, "iban_invalid")


def test_a_refund_without_iban_cannot_be_taken_up_without_one(tmp_path, personas, finance):
    first, _second = finance
    refund = _overpay(tmp_path, personas.customer_a, None, reference="E1", iban=None)
    with pytest.raises(services.BillingError) as refused:
        services.refund_propose(refund=refund, by=first)
    assert refused.value.code == "iban_missing"


def test_a_refund_for_a_customer_who_restricted_processing_waits_and_changes_nothing(
    tmp_path, personas, finance, client
):
    from kluis.rights.services import request_respond
    from kluis.rights.testing import alice_request

    first, second = finance
    refund = _overpay(tmp_path, personas.customer_a, first, reference="E-LIMIT")
    request_respond(
        request=alice_request(personas, "restriction"), by=personas.staff["privacy_officer"]
    )

    log_in(client, second)
    url = reverse("billing_backoffice:refund-decide", kwargs={"refund_id": refund.pk})
    page = client.post(url, {"approve": "yes"}, follow=True).content.decode()
    assert "art. 18 AVG" in page
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROPOSED and refund.approved_by is None
