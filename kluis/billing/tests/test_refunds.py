"""Refunds: an overpayment is proposed, a second finance user approves, pain.001 out."""

from __future__ import annotations

import pytest
from lxml import etree  # type: ignore[import-untyped]

from kluis.billing import services, statements
from kluis.billing.camt_write import Tx, write_statement
from kluis.billing.models import Refund, RefundExport
from kluis.billing.tests.helpers import order_for
from kluis.mail.models import OutboxMessage

pytestmark = pytest.mark.django_db(databases="__all__")


def _euro(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@pytest.fixture
def overpaid(tmp_path, personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    tx = Tx(
        "E1",
        _euro(invoice.total_cents + 1234),
        kenmerk=invoice.payment_reference,
        name="Alice de Vries",
        iban="NL02ABNA0123456789",
    )
    statements.statement_import(
        path=write_statement(tmp_path, [tx]), imported_by=personas.staff["finance"]
    )
    return invoice


def test_an_overpayment_becomes_a_refund_proposal(overpaid, personas):
    refund = Refund.objects.get()
    assert refund.amount_cents == 1234
    assert refund.invoice == overpaid
    assert refund.status == Refund.Status.PROPOSED
    assert refund.proposed_by == personas.staff["finance"]


def test_an_exact_or_partial_payment_proposes_no_refund(tmp_path, personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    tx = Tx("E1", _euro(invoice.total_cents - 1), kenmerk=invoice.payment_reference)
    statements.statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    tx = Tx("E2", "0.01", text=invoice.number)
    statements.statement_import(
        path=write_statement(tmp_path, [tx], name="b.xml"), imported_by=None
    )
    assert not Refund.objects.exists()


def test_the_proposer_cannot_approve(overpaid, personas):
    refund = Refund.objects.get()
    with pytest.raises(services.BillingError) as refused:
        services.refund_decide(refund=refund, by=personas.staff["finance"], approve=True)
    assert refused.value.code == "four_eyes"
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROPOSED


def test_a_system_proposal_needs_a_finance_proposer_first(tmp_path, personas):
    from kluis.testing import make_staff

    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    tx = Tx("E1", _euro(invoice.total_cents + 100), kenmerk=invoice.payment_reference)
    statements.statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    refund = Refund.objects.get()
    second = make_staff(roles=["finance"])
    with pytest.raises(services.BillingError):
        services.refund_decide(refund=refund, by=second, approve=True)
    services.refund_propose(refund=refund, by=personas.staff["finance"])
    assert services.refund_decide(refund=refund, by=second, approve=True).status == "approved"


def test_a_second_finance_user_approves_the_customer_is_mailed_and_pain001_validates(
    overpaid, personas, settings
):
    from kluis.testing import make_staff

    second = make_staff(roles=["finance"])
    refund = services.refund_decide(refund=Refund.objects.get(), by=second, approve=True)
    assert refund.approved_by == second
    mail = OutboxMessage.objects.get(template="billing/email/refund_approved")
    assert mail.to_subject == overpaid.customer_id
    export, xml = services.refunds_export(by=second)
    schema = etree.XMLSchema(etree.parse(str(settings.KLUIS_ISO20022_DIR / "pain.001.001.03.xsd")))
    doc = etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    assert doc.findtext(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", namespaces=ns) == "12.34"
    assert doc.findtext(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=ns) == "NL02ABNA0123456789"
    assert doc.findtext(".//p:Cdtr/p:Nm", namespaces=ns) == "Alice de Vries"
    assert doc.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=ns) == "1"
    assert export.count == 1 and export.total_cents == 1234
    refund.refresh_from_db()
    assert refund.status == Refund.Status.EXPORTED and refund.export == export
    with pytest.raises(services.BillingError):
        services.refunds_export(by=second)  # exported once only
    assert RefundExport.objects.count() == 1


def test_a_rejected_refund_is_not_exported(overpaid, personas):
    from kluis.testing import make_staff

    second = make_staff(roles=["finance"])
    services.refund_decide(refund=Refund.objects.get(), by=second, approve=False)
    with pytest.raises(services.BillingError):
        services.refunds_export(by=second)
    assert not OutboxMessage.objects.filter(template="billing/email/refund_approved").exists()


@pytest.mark.parametrize(
    ("language", "expected"), [("nl", "We betalen € 12,34 terug"), ("en", "We refund €12.34")]
)
def test_the_refund_mail_renders_in_the_customers_language(overpaid, personas, language, expected):
    from django.utils import translation

    from kluis.billing.emails import REFUND_APPROVED, _refund_context
    from kluis.mail.delivery import render_mail
    from kluis.testing import make_staff

    refund = services.refund_decide(
        refund=Refund.objects.get(), by=make_staff(roles=["finance"]), approve=True
    )
    with translation.override(language):  # as the delivery loads it
        context = _refund_context({"refund_id": refund.pk}, services.BILLING)
    mail = render_mail(template=REFUND_APPROVED, language=language, context=context)
    assert mail.subject.startswith(expected)
    assert "Alice de Vries" in mail.text and overpaid.number in mail.html


def test_finance_approves_and_downloads_the_payment_file_in_the_back_office(
    client, overpaid, personas
):
    from django.urls import reverse

    from kluis.testing import log_in, make_staff

    second = make_staff(roles=["finance"])
    refund = Refund.objects.get()
    log_in(client, personas.staff["finance"])
    client.post(reverse("billing_backoffice:refund-decide", args=[refund.pk]), {"approve": "yes"})
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROPOSED  # the proposer may not approve
    client.logout()
    log_in(client, second)
    assert client.get(reverse("billing_backoffice:refunds")).status_code == 200
    client.post(reverse("billing_backoffice:refund-decide", args=[refund.pk]), {"approve": "yes"})
    refund.refresh_from_db()
    assert refund.status == Refund.Status.APPROVED
    response = client.post(reverse("billing_backoffice:refunds-export"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert b"pain.001.001.03" in response.content


def test_finance_downloads_the_same_payment_file_again_byte_for_byte_and_it_is_audited(
    client, overpaid, personas, settings
):
    """The file is rebuilt from what was kept (moment, message id, execution day, our
    account and name) and the sealed accounts; our IBAN or the clock changing later
    changes nothing, an erased holder refuses it, and a wrong rebuild is never handed out."""
    import datetime as dt

    from django.urls import reverse
    from django.utils import timezone

    from kluis.audit.models import AuditEntry
    from kluis.testing import log_in, make_staff

    second = make_staff(roles=["finance"])
    services.refund_decide(refund=Refund.objects.get(), by=second, approve=True)
    export, first = services.refunds_export(by=second)
    assert b"<CreDtTm>" in first and export.execution_date == timezone.localdate()
    settings.KLUIS_IBANS = ["NL91ABNA0417164300", *settings.KLUIS_IBANS]  # our account moved
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:refunds")).content.decode()
    assert export.message_id in page and "Opnieuw downloaden" in page
    url = reverse("billing_backoffice:refunds-export-again", kwargs={"export_id": export.pk})
    again = client.post(url)
    assert again.status_code == 200
    assert again["Content-Disposition"] == f'attachment; filename="{export.message_id}.xml"'
    assert again.content == first
    entry = AuditEntry.objects.filter(action="billing.refunds_export_downloaded").get()
    assert export.message_id in entry.payload and entry.actor.endswith(
        str(personas.staff["finance"].pk)
    )

    # A kept field that no longer matches the file: the hash check refuses, nothing out.
    RefundExport.objects.filter(pk=export.pk).update(
        created_at=export.created_at + dt.timedelta(seconds=1)
    )
    refused = client.post(url, follow=True)
    assert refused["Content-Type"].startswith("text/html")
    assert "kan niet opnieuw worden gemaakt" in refused.content.decode()
    # A file from before the header was kept.
    RefundExport.objects.filter(pk=export.pk).update(execution_date=None)
    with pytest.raises(services.BillingError, match="not_rebuildable"):
        services.refunds_export_again(export=RefundExport.objects.get(), by=second)
    assert AuditEntry.objects.filter(action="billing.refunds_export_downloaded").count() == 1
