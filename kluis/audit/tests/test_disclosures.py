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


def test_a_batch_stores_what_the_orm_would_store_and_chains_each_send():
    from django.db import connection

    from kluis.audit.disclosures import Sent, disclosures_insert, disclosures_record
    from kluis.audit.models import Disclosure

    sends = [
        Sent(
            SUBJECT,
            "debt_collector",
            "collections",
            ["user.name", "user.contact.address"],
            FINANCE,
            f"invoice {i}",
        )
        for i in range(3)
    ]
    made = disclosures_record(sends[:1])
    disclosures_insert(sends[1:])
    # The same values through the ORM's own insert, for comparison.
    orm = Disclosure.objects.create(
        subject=made[0].subject,
        at=made[0].at,
        recipient=made[0].recipient,
        purpose=made[0].purpose,
        categories=made[0].categories,
        legal_basis=made[0].legal_basis,
        reference=made[0].reference,
        actor=made[0].actor,
        audit_seq=made[0].audit_seq,
    )
    columns = "subject, at, recipient, purpose, categories, legal_basis, reference, actor"
    table = Disclosure._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {columns}, audit_seq FROM {table} ORDER BY id")  # noqa: S608
        rows = cursor.fetchall()
    assert [r[0] for r in rows] == [made[0].pk, made[0].pk + 1, made[0].pk + 2, orm.pk]
    assert rows[0][1:] == rows[3][1:]  # stored alike, column for column
    assert [r[7] for r in rows[:3]] == ["invoice 0", "invoice 1", "invoice 2"]
    entries = AuditEntry.objects.filter(seq__in=[r[-1] for r in rows[:3]], action="disclosure")
    assert entries.count() == 3
    assert Disclosure.objects.get(pk=made[0].pk) == made[0]
