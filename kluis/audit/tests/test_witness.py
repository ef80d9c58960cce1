"""Checkpoints that leave the database, and what a database-level attacker can still do.

The attacker here can run any SQL on the main database (rewrite entries, recompute
every hash, move the head) but cannot write the witness directory, the privacy
officer's mailbox, or sign without the master key.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import stat

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from kluis.audit.chain import Event, audit_append_many, audit_verify, entry_hash
from kluis.audit.models import AuditEntry, AuditHead
from kluis.audit.witness import (
    WITNESS_ENTRIES,
    WITNESS_EVERY,
    witness_check,
    witness_dir,
    witness_newest,
    witness_run,
)
from kluis.jobs.registry import JOBS

pytestmark = pytest.mark.django_db(databases="__all__")

OFFICER = "privacy@staff.winkeltjes.net"


def _fill(n: int) -> list[AuditEntry]:
    return audit_append_many(Event("test.event", "system:test", None, {"i": i}) for i in range(n))


def _rewrite_from(seq: int) -> None:
    """What a database-level attacker does: forge from `seq` on, re-hash, move the head."""
    entries = list(AuditEntry.objects.filter(seq__gte=seq).order_by("seq"))
    prev = AuditEntry.objects.get(seq=seq - 1).hash if seq > 1 else "0" * 64
    with connection.cursor() as cursor:
        for entry in entries:
            payload = entry.payload.replace('"actor":"system:test"', '"actor":"system:forged"')
            digest = entry_hash(prev, payload)
            cursor.execute(
                "UPDATE audit_auditentry SET payload=%s, actor=%s, prev_hash=%s, hash=%s "
                "WHERE seq=%s",
                [
                    payload,
                    "system:forged" if "forged" in payload else entry.actor,
                    prev,
                    digest,
                    entry.seq,
                ],
            )
            prev = digest
    AuditHead.objects.filter(pk=1).update(hash=prev)


def _cut_after(seq: int) -> None:
    """Delete every entry after `seq` and rewind the head to it."""
    AuditEntry.objects.filter(seq__gt=seq).delete()
    last = AuditEntry.objects.get(seq=seq)
    AuditHead.objects.filter(pk=1).update(seq=seq, hash=last.hash)


def _verify(*args: str) -> str:
    out = io.StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


def test_the_worker_checks_for_a_due_checkpoint_and_verifies_daily():
    assert JOBS["audit_witness"].every <= dt.timedelta(minutes=5)
    assert JOBS["audit_verify"].every == dt.timedelta(days=1)
    assert dt.timedelta(hours=1) == WITNESS_EVERY
    assert WITNESS_ENTRIES == 10_000


def test_a_checkpoint_is_a_new_read_only_file_each_time_one_is_due():
    _fill(3)
    assert witness_run() == "checkpoint of entry #3 written"
    first = witness_newest()
    assert first is not None and first.seq == 3
    assert not first.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    # Not due again within the hour and 10,000 entries...
    _fill(5)
    assert witness_run() == "no checkpoint due"
    # ...due after an hour, as a second file; the first is untouched.
    later = timezone.now() + WITNESS_EVERY
    assert witness_run(now=later).startswith("checkpoint of entry #")
    files = sorted(witness_dir().glob("checkpoint-*.json"))
    assert len(files) == 2 and files[0] == first.path
    assert files[0].read_text() == first.document
    assert json.loads(files[1].read_text())["seq"] > first.seq


def test_ten_thousand_entries_make_a_checkpoint_due_before_the_hour():
    _fill(10)
    witness_run()
    first = witness_newest()
    assert first is not None
    _fill(WITNESS_ENTRIES - 2)
    assert witness_run() == "no checkpoint due"
    _fill(2)
    assert witness_run().startswith("checkpoint of entry #")
    newest = witness_newest()
    assert newest is not None and newest.seq - first.seq >= WITNESS_ENTRIES


def test_audit_verify_checks_against_the_newest_witness_by_default():
    _fill(8)
    witness_run()
    _fill(4)
    output = _verify()
    assert "OK: 13 audit entries verified" in output  # 12 + the checkpoint's own entry
    assert "witness checkpoint-000000000008-" in output
    assert "the 5 entries after it" in output


def test_rewriting_the_chain_before_the_witness_is_caught_though_every_hash_fits():
    _fill(8)
    witness_run()
    _fill(4)
    _rewrite_from(5)
    # The chain on its own holds, as it did before witnesses existed...
    assert audit_verify().ok
    assert "OK" in _verify("--no-witness")
    # ...the witness does not.
    with pytest.raises(CommandError, match="entry #8 differs from the checkpoint: rewritten"):
        _verify()


def test_cutting_the_tail_back_past_the_witness_and_rewinding_the_head_is_caught():
    _fill(8)
    witness_run()
    _cut_after(6)
    assert audit_verify().ok
    with pytest.raises(CommandError, match="entry #8 of the checkpoint is no longer in the chain"):
        _verify()


def test_what_an_attacker_can_still_do_undetected_is_the_window_after_the_witness():
    _fill(8)
    witness_run()  # checkpoint of #8, then its own audit entry #9
    _fill(6)  # #10..#15
    # Rewriting or cutting what came after the newest checkpoint goes unnoticed; the
    # check says how large that window is.
    _rewrite_from(10)
    verdict = witness_check()
    assert verdict.ok and verdict.unwitnessed == 7
    _cut_after(9)
    verdict = witness_check()
    assert verdict.ok and verdict.unwitnessed == 1
    # The next checkpoint closes the window on what is there now.
    witness_run(now=timezone.now() + WITNESS_EVERY)  # checkpoint of #9
    _rewrite_from(8)
    assert not witness_check().ok


def test_a_forged_witness_file_is_refused(tmp_path):
    _fill(3)
    witness_run()
    newest = witness_newest()
    assert newest is not None
    doc = json.loads(newest.document)
    doc["hash"] = "f" * 64
    forged = newest.path.with_name("checkpoint-999999999999-forged.json")
    forged.write_text(json.dumps(doc))
    with pytest.raises(CommandError, match="signature does not match"):
        _verify()


def test_the_checkpoint_is_mailed_to_the_privacy_officer_once(settings):
    settings.KLUIS_PRIVACY_OFFICER_EMAIL = OFFICER
    _fill(3)
    assert witness_run() == "checkpoint of entry #3 written; mailed"
    [message] = mail.outbox
    assert message.to == [OFFICER]
    assert "auditcontrolepunt #3" in message.subject
    [(name, content, mimetype)] = message.attachments
    newest = witness_newest()
    assert newest is not None
    assert name == newest.path.name and content == newest.document
    assert mimetype == "application/json"
    assert witness_run() == "no checkpoint due"
    assert len(mail.outbox) == 1


def test_a_checkpoint_mail_that_failed_goes_at_the_next_run(settings):
    settings.KLUIS_PRIVACY_OFFICER_EMAIL = OFFICER
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    _fill(3)
    with pytest.raises(OSError):
        witness_run()
    assert witness_newest() is not None  # the file is there all the same
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert witness_run() == "no checkpoint due; newest mailed"
    assert len(mail.outbox) == 1


def test_without_an_address_nothing_is_mailed():
    _fill(3)
    assert witness_run() == "checkpoint of entry #3 written"
    assert mail.outbox == []


def test_the_daily_check_mails_the_privacy_officer_when_the_chain_was_rewritten(settings):
    settings.KLUIS_PRIVACY_OFFICER_EMAIL = OFFICER
    _fill(8)
    witness_run()
    mail.outbox.clear()
    assert JOBS["audit_verify"].run().startswith("OK")
    assert mail.outbox == []
    _rewrite_from(3)
    outcome = JOBS["audit_verify"].run()
    assert outcome.startswith("FAILED (mailed)") and "#8 differs" in outcome
    [message] = mail.outbox
    assert message.to == [OFFICER] and "MISLUKT" in message.subject
    assert "entry #8 differs from the checkpoint" in message.body
    assert AuditEntry.objects.filter(action="audit.verify_failed").count() == 1


def test_the_daily_check_mails_when_an_entry_was_changed_without_rehashing(settings):
    settings.KLUIS_PRIVACY_OFFICER_EMAIL = OFFICER
    _fill(5)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET action='x.y' WHERE seq=2")
    assert JOBS["audit_verify"].run().startswith("FAILED (mailed): audit chain BROKEN at entry #2")
    assert len(mail.outbox) == 1
