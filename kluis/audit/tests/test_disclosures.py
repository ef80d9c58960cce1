import pytest

from kluis.audit.disclosures import disclosure_record, disclosures_for
from kluis.audit.models import AuditEntry
from kluis.policy.enforce import Actor, PolicyViolation

pytestmark = pytest.mark.django_db(databases="__all__")

FINANCE = Actor.staff("u-fin", {"finance"})
SUBJECT = __import__("uuid").uuid4()


def test_a_declared_flow_is_recorded_in_the_ledger_and_the_chain():
    disclosure = disclosure_record(
        subject=SUBJECT,
        recipient="debt_collector",
        purpose="collections",
        categories=["user.name", "user.contact.address"],
        actor=FINANCE,
        reference="invoice 2026-0001",
    )
    assert disclosures_for(SUBJECT) == [disclosure]
    entry = AuditEntry.objects.get(seq=disclosure.audit_seq)
    assert entry.action == "disclosure"
    assert entry.subject == SUBJECT


def test_an_undeclared_recipient_is_refused():
    with pytest.raises(PolicyViolation, match="not declared"):
        disclosure_record(
            subject=SUBJECT,
            recipient="advertiser",
            purpose="collections",
            categories=["user.name"],
            actor=FINANCE,
        )


def test_a_category_the_recipient_may_not_receive_is_refused():
    with pytest.raises(PolicyViolation, match="may not receive"):
        disclosure_record(
            subject=SUBJECT,
            recipient="debt_collector",
            purpose="collections",
            categories=["user.name", "kluis.vat_number"],
            actor=FINANCE,
        )


def test_a_purpose_the_recipient_does_not_serve_is_refused():
    with pytest.raises(PolicyViolation, match="may not receive data for"):
        disclosure_record(
            subject=SUBJECT,
            recipient="debt_collector",
            purpose="invoicing",
            categories=["user.name"],
            actor=FINANCE,
        )
    assert disclosures_for(SUBJECT) == []


def test_a_flow_that_needs_consent_must_name_it():
    with pytest.raises(ValueError, match="consent"):
        disclosure_record(
            subject=SUBJECT,
            recipient="verisign",
            purpose="domain_registration",
            categories=["user.name"],
            actor=Actor.system("domains"),
        )
