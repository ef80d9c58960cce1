"""The witness: signed checkpoints of the audit chain, kept outside the database.

The hash chain alone proves nothing against someone who can write the database: they
can rewrite entries and recompute every hash and the head. A signed checkpoint kept
elsewhere ("entry #N had hash H") pins everything up to N. The worker writes one every
hour and after every 10,000 new entries, as a file of its own in the witness
directory (never overwritten; keep the directory on other storage than the database),
and mails it to the privacy officer when an address is configured. `audit_verify`
checks the chain against the newest one.

What stays open, by construction, is the window after the newest checkpoint: entries
appended since it can be rewritten or cut off without detection. `witness_check`
reports that window (entries and time) every time it runs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import DatabaseError, transaction
from django.utils import timezone

from kluis.audit.chain import ChainError, Verdict, audit_append, audit_verify
from kluis.audit.checkpoint import checkpoint_check, checkpoint_create, public_key_b64
from kluis.audit.models import AuditHead

logger = logging.getLogger(__name__)

# A checkpoint is due when the newest is this old...
WITNESS_EVERY = dt.timedelta(hours=1)
# ...or this many entries behind the head.
WITNESS_ENTRIES = 10_000
PREFIX = "checkpoint-"


@dataclass(frozen=True)
class WitnessCheckpoint:
    path: Path
    seq: int
    at: dt.datetime
    document: str


def witness_dir() -> Path:
    return Path(settings.KLUIS_AUDIT_WITNESS_DIR)


def _file_name(seq: int, at: dt.datetime) -> str:
    # Zero-padded, so the newest checkpoint is the last name in sort order.
    return f"{PREFIX}{seq:012d}-{at.astimezone(dt.UTC):%Y%m%dT%H%M%S%fZ}.json"


def witness_newest(directory: Path | None = None) -> WitnessCheckpoint | None:
    """The newest checkpoint in the witness directory, or None when it has none."""
    directory = directory or witness_dir()
    try:
        names = sorted(
            p.name
            for p in directory.iterdir()
            if p.name.startswith(PREFIX) and p.name.endswith(".json")
        )
    except FileNotFoundError:
        return None
    if not names:
        return None
    path = directory / names[-1]
    document = path.read_text()
    try:
        doc = json.loads(document)
        return WitnessCheckpoint(
            path, int(doc["seq"]), dt.datetime.fromisoformat(doc["at"]), document
        )
    except (ValueError, KeyError, TypeError):
        # Unreadable: checkpoint_check names it; seq and time unknown.
        return WitnessCheckpoint(path, -1, dt.datetime.min.replace(tzinfo=dt.UTC), document)


def _head_seq() -> int:
    head = AuditHead.objects.filter(pk=1).values_list("seq", flat=True).first()
    return int(head or 0)


def witness_due(*, now: dt.datetime | None = None) -> bool:
    newest = witness_newest()
    if newest is None or newest.seq < 0:
        return True
    now = now or timezone.now()
    return now - newest.at >= WITNESS_EVERY or _head_seq() - newest.seq >= WITNESS_ENTRIES


def witness_write(*, directory: Path | None = None) -> WitnessCheckpoint:
    """Write a signed checkpoint of the head as a new file; never replaces one."""
    directory = directory or witness_dir()
    directory.mkdir(parents=True, exist_ok=True)
    document = checkpoint_create()
    at = dt.datetime.fromisoformat(str(document["at"]))
    seq = int(str(document["seq"]))
    text = json.dumps(document, indent=2) + "\n"
    path = directory / _file_name(seq, at)
    # "x": fails rather than overwrite; the file is made read-only once complete.
    with open(path, "x", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    path.chmod(0o444)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    audit_append(
        action="audit.witness",
        actor="system:audit",
        data={"seq": seq, "hash": str(document["hash"]), "file": path.name},
    )
    return WitnessCheckpoint(path, seq, at, text)


def _mail_officer(*, subject: str, body: str, attachment: WitnessCheckpoint | None = None) -> bool:
    address = settings.KLUIS_PRIVACY_OFFICER_EMAIL
    if not address:
        return False
    message = EmailMessage(subject=subject, body=body, to=[address])
    if attachment is not None:
        message.attach(attachment.path.name, attachment.document, "application/json")
    message.send(fail_silently=False)
    return True


def witness_mail(checkpoint: WitnessCheckpoint) -> bool:
    """Mail a checkpoint to the privacy officer once; True if it went now.

    A marker file next to it records that it went, so a failed send is retried at the
    next run and a sent one is not sent again.
    """
    marker = checkpoint.path.with_name(checkpoint.path.name + ".mailed")
    if not settings.KLUIS_PRIVACY_OFFICER_EMAIL or marker.exists():
        return False
    sent = _mail_officer(
        subject=f"kluis: auditcontrolepunt #{checkpoint.seq} / audit checkpoint #{checkpoint.seq}",
        body=(
            f"Bijgevoegd is het ondertekende controlepunt van de auditlog bij regel "
            f"#{checkpoint.seq} ({checkpoint.at.isoformat()}). Bewaar deze mail: met "
            f"`manage.py audit_verify --checkpoint BESTAND` bewijst hij later dat de log "
            f"tot dat punt niet is herschreven.\n\n"
            f"Attached is the signed checkpoint of the audit log at entry "
            f"#{checkpoint.seq} ({checkpoint.at.isoformat()}). Keep this mail: with "
            f"`manage.py audit_verify --checkpoint FILE` it later proves that the log "
            f"was not rewritten up to that point.\n"
        ),
        attachment=checkpoint,
    )
    if sent:
        marker.touch()
    return sent


def witness_run(*, now: dt.datetime | None = None) -> str:
    """The worker's step: write a checkpoint when one is due, mail the newest."""
    written = witness_write() if witness_due(now=now) else None
    newest = written or witness_newest()
    mailed = witness_mail(newest) if newest is not None else False
    if written is None:
        return "no checkpoint due" + ("; newest mailed" if mailed else "")
    return f"checkpoint of entry #{written.seq} written" + ("; mailed" if mailed else "")


@dataclass(frozen=True)
class WitnessVerdict:
    ok: bool
    problem: str = ""
    chain: Verdict | None = None
    # The window a database-level attacker still has: entries after the newest
    # checkpoint, and how long ago that checkpoint was taken.
    checkpoint: WitnessCheckpoint | None = None
    unwitnessed: int = 0
    since: dt.timedelta | None = None


def witness_check(*, now: dt.datetime | None = None, witness: bool = True) -> WitnessVerdict:
    """The chain on its own, then (unless `witness` is off) against the newest witness."""
    verdict = audit_verify()
    if not verdict.ok:
        problem = f"audit chain BROKEN at entry #{verdict.first_bad_seq}: {verdict.problem}"
        return WitnessVerdict(False, problem, verdict)
    newest = witness_newest() if witness else None
    if newest is None:
        return WitnessVerdict(True, chain=verdict, unwitnessed=verdict.count)
    result = checkpoint_check(newest.document, trusted_public_key=public_key_b64())
    if not result.ok:
        problem = f"witness checkpoint {newest.path.name}: {result.problem}"
        return WitnessVerdict(False, problem, verdict, newest)
    now = now or timezone.now()
    return WitnessVerdict(
        True,
        chain=verdict,
        checkpoint=newest,
        unwitnessed=verdict.head_seq - newest.seq,
        since=now - newest.at,
    )


def witness_daily_verify() -> str:
    """The daily check; a failure is logged, audited and mailed to the privacy officer."""
    verdict = witness_check()
    if verdict.ok:
        return f"OK; {verdict.unwitnessed} entries after the newest witness checkpoint"
    logger.error("daily audit verification failed: %s", verdict.problem)
    mailed = _mail_officer(
        subject="kluis: controle van de auditlog MISLUKT / audit log check FAILED",
        body=(
            "De dagelijkse controle van de auditlog is mislukt. Zoek uit wat er is gebeurd "
            "voordat de log verder wordt gebruikt; `manage.py audit_verify` toont het "
            "opnieuw.\n\n"
            "The daily check of the audit log failed. Find out what happened before the "
            "log is relied on again; `manage.py audit_verify` shows it again.\n\n"
            f"{verdict.problem}\n"
        ),
    )
    try:
        # On a chain cut short, appending may itself fail; the mail went first.
        with transaction.atomic():
            audit_append(
                action="audit.verify_failed",
                actor="system:audit",
                data={"problem": verdict.problem[:300], "head_seq": _head_seq()},
            )
    except (DatabaseError, ChainError):
        logger.exception("the failed verification could not be audited")
    return f"FAILED ({'mailed' if mailed else 'no address to mail'}): {verdict.problem}"[:200]
