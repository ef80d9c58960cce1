import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from kluis.audit.chain import audit_append, audit_verify
from kluis.audit.models import AuditEntry

pytestmark = pytest.mark.django_db(databases="__all__")


def _fill(n: int = 8) -> list[AuditEntry]:
    return [audit_append(action="test.event", actor=f"user:{i}", data={"i": i}) for i in range(n)]


def _sql(statement: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_an_untouched_chain_verifies():
    _fill()
    verdict = audit_verify()
    assert verdict.ok, verdict.problem
    assert verdict.count == AuditEntry.objects.count()


def test_each_entry_commits_to_the_previous_one():
    entries = _fill(3)
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].prev_hash == entries[1].hash


def test_changing_an_entrys_payload_is_named():
    entries = _fill()
    target = entries[4]
    payload = json.loads(target.payload)
    payload["data"]["i"] = 99
    _sql(
        "UPDATE audit_auditentry SET payload = %s WHERE seq = %s",
        json.dumps(payload, sort_keys=True, separators=(",", ":")),
        target.seq,
    )
    verdict = audit_verify()
    assert not verdict.ok
    assert verdict.first_bad_seq == target.seq


def test_changing_a_column_outside_the_payload_is_named():
    entries = _fill()
    target = entries[2]
    _sql("UPDATE audit_auditentry SET action = %s WHERE seq = %s", "other.event", target.seq)
    verdict = audit_verify()
    assert verdict.first_bad_seq == target.seq
    assert "columns" in verdict.problem


def test_recomputing_one_hash_after_a_change_is_still_caught_at_the_next_entry():
    from kluis.audit.chain import entry_hash

    entries = _fill()
    target = entries[3]
    payload = target.payload.replace('"i":3', '"i":33')
    _sql(
        "UPDATE audit_auditentry SET payload = %s, hash = %s WHERE seq = %s",
        payload,
        entry_hash(target.prev_hash, payload),
        target.seq,
    )
    verdict = audit_verify()
    assert verdict.first_bad_seq == target.seq + 1


def test_deleting_an_entry_is_named():
    entries = _fill()
    target = entries[5]
    _sql("DELETE FROM audit_auditentry WHERE seq = %s", target.seq)
    verdict = audit_verify()
    assert verdict.first_bad_seq == target.seq
    assert "missing" in verdict.problem


def test_deleting_the_last_entry_is_caught_by_the_head():
    entries = _fill()
    _sql("DELETE FROM audit_auditentry WHERE seq = %s", entries[-1].seq)
    verdict = audit_verify()
    assert not verdict.ok
    assert verdict.first_bad_seq == entries[-1].seq


def test_reordering_two_entries_is_named():
    entries = _fill()
    a, b = entries[1], entries[2]
    # Swap everything but the sequence numbers (and keep the unique columns apart).
    far = 10**9
    _sql("UPDATE audit_auditentry SET seq = seq + %s WHERE seq IN (%s, %s)", far, a.seq, b.seq)
    _sql("UPDATE audit_auditentry SET seq = %s WHERE seq = %s", b.seq, far + a.seq)
    _sql("UPDATE audit_auditentry SET seq = %s WHERE seq = %s", a.seq, far + b.seq)
    verdict = audit_verify()
    assert not verdict.ok
    assert verdict.first_bad_seq == a.seq


def test_the_command_reports_ok_or_names_the_bad_entry(capsys):
    entries = _fill()
    call_command("audit_verify")
    assert "OK" in capsys.readouterr().out
    _sql("UPDATE audit_auditentry SET actor = %s WHERE seq = %s", "user:evil", entries[6].seq)
    with pytest.raises(CommandError, match=f"#{entries[6].seq}"):
        call_command("audit_verify")


def test_no_plain_personal_data_goes_into_the_chain_through_a_reveal():
    from kluis.accounts.models import Customer
    from kluis.policy.enforce import Actor
    from kluis.vault.tests.helpers import make_customer

    customer = Customer.objects.get(pk=make_customer(name="Geheime Naam").pk)
    customer.name.reveal(purpose="order_status", actor=Actor.staff("u", {"orders"}))
    assert not AuditEntry.objects.filter(payload__contains="Geheime").exists()


@pytest.mark.parametrize("tamper", ["DELETE FROM {table}", "UPDATE {table} SET seq = 0"])
def test_appending_refuses_when_the_head_was_removed_or_reset(tamper):
    from kluis.audit.chain import ChainError
    from kluis.audit.models import AuditHead

    _fill(3)
    _sql(tamper.format(table=AuditHead._meta.db_table))
    with pytest.raises(ChainError, match="head is missing"), transaction.atomic():
        audit_append(action="test.event", actor="user:x")
    assert AuditEntry.objects.count() == 3
