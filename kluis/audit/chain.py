"""Appending to and verifying the audit chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from kluis.audit.models import GENESIS, AuditEntry, AuditHead


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, payload: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


@dataclass(frozen=True)
class Event:
    action: str
    actor: str
    subject: uuid.UUID | None = None
    data: dict[str, Any] | None = None


def audit_append(
    *,
    action: str,
    actor: str,
    subject: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    return audit_append_many([Event(action, actor, subject, data)])[0]


@transaction.atomic
def audit_append_many(events: Iterable[Event]) -> list[AuditEntry]:
    """Append events in order. The head row lock serialises concurrent appends."""
    head = _locked_head()
    now = timezone.now()
    entries = []
    seq, prev = head.seq, head.hash
    for event in events:
        seq += 1
        payload = canonical(
            {
                "seq": seq,
                "at": now.isoformat(),
                "action": event.action,
                "actor": event.actor,
                "subject": str(event.subject) if event.subject else None,
                "data": event.data or {},
            }
        )
        digest = entry_hash(prev, payload)
        entries.append(
            AuditEntry(
                seq=seq,
                at=now,
                action=event.action,
                actor=event.actor,
                subject=event.subject,
                payload=payload,
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest
    if not entries:
        return []
    AuditEntry.objects.bulk_create(entries, batch_size=2000)
    AuditHead.objects.filter(pk=1).update(seq=seq, hash=prev)
    return entries


class ChainError(Exception):
    """The chain cannot be appended to safely."""


def _locked_head() -> AuditHead:
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # A fresh (or flushed) database; a chain with entries but no head was tampered
        # with, and appending would hide that.
        if AuditEntry.objects.exists():
            raise ChainError("the audit head is missing while entries exist; run audit_verify")
        AuditHead.objects.get_or_create(pk=1)
        head = AuditHead.objects.select_for_update().get(pk=1)
    return head


@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""


def _columns_match(row: tuple[Any, ...], doc: dict[str, Any]) -> bool:
    _, _, _, _, at, action, actor, subject = row
    at_value = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(str(at))
    return (
        doc.get("action") == action
        and doc.get("actor") == actor
        and doc.get("subject") == (str(subject) if subject else None)
        and dt.datetime.fromisoformat(doc["at"]) == at_value
    )


def audit_verify(*, chunk_size: int = 5000) -> Verdict:
    """Walk the chain from the genesis; stop at the first entry that does not hold."""
    expected_seq = 1
    prev = GENESIS
    count = 0
    rows = AuditEntry.objects.order_by("seq").values_list(
        "seq", "prev_hash", "hash", "payload", "at", "action", "actor", "subject"
    )
    sha256 = hashlib.sha256
    loads = json.loads
    for row in rows.iterator(chunk_size=chunk_size):
        seq, prev_hash, digest, payload = row[0], row[1], row[2], row[3]
        problem = ""
        if seq != expected_seq:
            problem = f"entry #{expected_seq} is missing (next is #{seq})"
            seq = expected_seq
        elif prev_hash != prev:
            problem = f"entry #{seq} does not link to entry #{seq - 1}"
        elif sha256(f"{prev}\n{payload}".encode()).hexdigest() != digest:
            problem = f"entry #{seq} has been changed: its hash does not match its content"
        else:
            doc = loads(payload)
            if doc.get("seq") != seq or not _columns_match(row, doc):
                problem = f"entry #{seq} has been changed: its columns differ from its payload"
        if problem:
            return Verdict(False, count, expected_seq - 1, prev, seq, problem)
        prev = digest
        expected_seq += 1
        count += 1
    head = AuditHead.objects.filter(pk=1).first() or AuditHead(seq=0, hash=GENESIS)
    if head.seq != count or head.hash != prev:
        last = count + 1 if head.seq > count else head.seq
        return Verdict(
            False,
            count,
            count,
            prev,
            last,
            f"the chain ends at #{count} but its head says #{head.seq}: entries were removed "
            "from the end or the head was altered",
        )
    return Verdict(True, count, count, prev)
