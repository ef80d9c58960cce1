import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from kluis.audit.chain import audit_append, entry_hash
from kluis.audit.checkpoint import checkpoint_check, checkpoint_create
from kluis.audit.models import AuditEntry, AuditHead

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_checkpoint_is_signed_and_holds_for_an_untouched_chain(tmp_path):
    for i in range(5):
        audit_append(action="test.event", actor="system:test", data={"i": i})
    path = tmp_path / "checkpoint.json"
    call_command("audit_checkpoint", str(path), stdout=io.StringIO())
    doc = json.loads(path.read_text())
    assert doc["seq"] == 5
    audit_append(action="test.after", actor="system:test")
    call_command("audit_verify", checkpoint=[path], stdout=io.StringIO())


def test_a_rewritten_chain_fails_against_an_earlier_checkpoint():
    entries = [audit_append(action="test.event", actor="system:test") for _ in range(4)]
    document = json.dumps(checkpoint_create())
    # Rewrite entry 2 and recompute every later hash: the chain verifies on its own...
    prev = entries[0].hash
    with connection.cursor() as cursor:
        for entry in entries[1:]:
            payload = entry.payload.replace("test.event", "test.forged")
            digest = entry_hash(prev, payload)
            cursor.execute(
                "UPDATE audit_auditentry SET payload=%s, action=%s, prev_hash=%s, hash=%s "
                "WHERE seq=%s",
                [payload, "test.forged", prev, digest, entry.seq],
            )
            prev = digest
    AuditHead.objects.filter(pk=1).update(hash=prev)
    from kluis.audit.chain import audit_verify

    assert audit_verify().ok
    # ...but not against the checkpoint taken before.
    result = checkpoint_check(document)
    assert not result.ok
    assert "#4" in result.problem


def test_a_forged_signature_is_refused():
    audit_append(action="test.event", actor="system:test")
    doc = checkpoint_create()
    doc["seq"] = 1
    doc["hash"] = AuditEntry.objects.get(seq=1).hash[::-1]
    assert not checkpoint_check(json.dumps(doc)).ok
    assert "signature" in checkpoint_check(json.dumps(doc)).problem


def test_a_checkpoint_signed_by_another_key_is_refused(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    audit_append(action="test.event", actor="system:test")
    doc = checkpoint_create()
    other = Ed25519PrivateKey.generate()
    import base64

    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    doc["public_key"] = base64.b64encode(
        other.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    ).decode()
    message = f"kluis-audit-checkpoint|{doc['seq']}|{doc['hash']}|{doc['at']}".encode()
    doc["signature"] = base64.b64encode(other.sign(message)).decode()
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CommandError, match="another key"):
        call_command("audit_verify", checkpoint=[path], stdout=io.StringIO())
