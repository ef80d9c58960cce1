"""Following Postfix's log lines by queue id into per-mailbox, per-day counts.

Lines are read as Postfix documents them per daemon (smtpd `client=`, cleanup
`message-id=`, qmgr `from=<…>, size=…, nrcpt=… (queue active)` and `removed`, the
delivery agents' `to=<…>, relay=…, status=…`, bounce's notifications). Of a message
only the sender's mailbox (if it is a customer's), its size and whether it was
counted are remembered, per queue id, until qmgr removes it; the map is capped, the
oldest dropped first, so a queue id that never completes cannot grow memory.
Subjects, message ids and correspondents' addresses are matched and dropped.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

MAX_LINE = 16 * 1024
MAX_PENDING = 100_000
PENDING_DAYS = 7  # longer than Postfix's maximal_queue_lifetime (5 days)

HEADER = re.compile(
    rb"(?:(?P<bsd>[A-Z][a-z]{2} [ \d]\d) \d\d:\d\d:\d\d|(?P<iso>\d{4}-\d\d-\d\d)T\S+) "
    rb"\S+ postfix[\w.-]*(?:/[\w.-]+)*/(?P<daemon>[a-z]+)\[\d+\]: "
    rb"(?:(?P<qid>[0-9A-Za-z]{5,20}): (?P<rest>[^\r\n]*))?"
)
QMGR_FROM = re.compile(rb"from=<([^>]*)>, size=(\d+), nrcpt=(\d+) \(queue active\)\r?\n?\Z")
DELIVERY = re.compile(
    rb"to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=\S+, (?:conn_use=\d+, )?delay=[\d.]+, "
    rb"delays=[\d./]+, dsn=\d\.\d{1,3}\.\d{1,3}, "
    rb"status=(sent|deferred|bounced|expired|undeliverable) "
)
DELIVERY_AGENTS = frozenset({b"smtp", b"lmtp", b"virtual", b"local", b"pipe", b"error", b"retry"})
OK_PREFIXES = {
    b"smtpd": (b"client=", b"reject:", b"warning:", b"filter:", b"hold:", b"discard:", b"redirect"),
    b"cleanup": (
        b"message-id=",
        b"resent-message-id=",
        b"warning:",
        b"reject:",
        b"hold:",
        b"discard:",
        b"info:",
        b"milter-",
        b"replace:",
        b"redirect:",
    ),
    b"qmgr": (b"skipped", b"from=<>, status=expired", b"warning:"),
    b"bounce": (
        b"sender non-delivery notification: ",
        b"sender delivery status notification: ",
        b"postmaster non-delivery notification: ",
        b"sender delay notification: ",
    ),
    b"pickup": (b"uid=",),
}
# Daemons whose queue-id lines carry nothing counted here.
QUIET = frozenset({b"pickup", b"postsuper", b"sendmail", b"postdrop", b"anvil", b"scache"})
MONTHS = {
    m.encode(): i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


@dataclass
class Pending:
    sender: uuid.UUID | None  # the sending customer mailbox, if any
    size: int
    counted: bool
    seen: dt.date


@dataclass
class MailTally:
    # (mailbox, day) -> [received, received_bytes, sent, sent_bytes, recipients, deferred, bounced]
    days: dict[tuple[uuid.UUID, dt.date], list[int]] = field(default_factory=dict)
    changed: set[bytes] = field(default_factory=set)  # queue ids whose state changed
    removed: set[bytes] = field(default_factory=set)
    lines: int = 0
    bad: int = 0
    unmatched: int = 0


class MailParser:
    """`mailbox(address)` gives a customer mailbox id or None; `pending` is the queue
    state carried between chunks, files and runs (loaded from and saved to the
    database by the caller)."""

    def __init__(
        self,
        mailbox: Callable[[bytes], uuid.UUID | None],
        pending: dict[bytes, Pending],
        today: dt.date,
    ) -> None:
        self.mailbox = mailbox
        self.pending = pending
        self.today = today
        self._days: dict[bytes, dt.date | None] = {}
        # The queue ids whose state is in the database: only they need deleting.
        self.stored: set[bytes] = set(pending)

    def _day(self, key: bytes, bsd: bool) -> dt.date | None:
        day = self._days.get(key)
        if day is None and key not in self._days:
            try:
                if bsd:
                    month = MONTHS.get(key[:3])
                    if month is None:
                        return None
                    day = dt.date(self.today.year, month, int(key[4:6]))
                    if day > self.today + dt.timedelta(days=1):  # syslog has no year
                        day = day.replace(year=day.year - 1)
                else:
                    day = dt.date.fromisoformat(key.decode())
            except ValueError:
                day = None
            self._days[key] = day
        return day

    def _row(self, tally: MailTally, box: uuid.UUID, day: dt.date) -> list[int]:
        row = tally.days.get((box, day))
        if row is None:
            row = tally.days[(box, day)] = [0, 0, 0, 0, 0, 0, 0]
        return row

    def feed(self, lines: Iterable[bytes], tally: MailTally) -> None:
        header = HEADER.match
        pending = self.pending
        mailbox = self.mailbox
        for line in lines:
            tally.lines += 1
            if len(line) > MAX_LINE or b"\0" in line:
                tally.bad += 1
                continue
            m = header(line)
            if m is None:
                tally.bad += 1
                continue
            qid, rest = m.group("qid", "rest")
            if qid is None:
                continue  # connect, disconnect, statistics: nothing per message
            daemon = m.group("daemon")
            bsd = m.group("bsd")
            day = self._day(bsd or m.group("iso"), bsd is not None)
            if day is None:
                tally.bad += 1
                continue
            if daemon == b"qmgr":
                if rest == b"removed":
                    if pending.pop(qid, None) is not None:
                        tally.changed.discard(qid)
                        if qid in self.stored:
                            tally.removed.add(qid)
                    continue
                f = QMGR_FROM.match(rest)
                if f is None:
                    if not rest.startswith(OK_PREFIXES[b"qmgr"]):
                        tally.bad += 1
                    continue
                state = pending.get(qid)
                if state is None:
                    if len(pending) >= MAX_PENDING:
                        oldest = next(iter(pending))
                        del pending[oldest]
                        tally.changed.discard(oldest)
                        if oldest in self.stored:
                            tally.removed.add(oldest)
                    sender = mailbox(f.group(1)) if f.group(1) else None
                    state = pending[qid] = Pending(sender, int(f.group(2)), False, day)
                    tally.removed.discard(qid)
                if not state.counted:
                    # Counted once, although qmgr logs the line again after a deferral.
                    state.counted = True
                    if state.sender is not None:
                        row = self._row(tally, state.sender, day)
                        row[2] += 1
                        row[3] += state.size
                        row[4] += int(f.group(3))
                    else:
                        tally.unmatched += 1
                tally.changed.add(qid)
                continue
            if daemon in DELIVERY_AGENTS:
                d = DELIVERY.match(rest)
                if d is None:
                    if rest.startswith(b"to=") or not (
                        rest.startswith(
                            (b"host ", b"lost connection", b"conversation", b"warning:")
                        )
                        or b"said:" in rest
                    ):
                        tally.bad += 1
                    continue
                status = d.group(2)
                state = pending.get(qid)
                sender = state.sender if state is not None else None
                recipient = mailbox(d.group(1))
                if status == b"sent":
                    if recipient is not None:
                        row = self._row(tally, recipient, day)
                        row[0] += 1
                        row[1] += state.size if state is not None else 0
                    elif sender is None:
                        tally.unmatched += 1
                    continue
                box = sender if sender is not None else recipient
                if box is None:
                    tally.unmatched += 1
                    continue
                row = self._row(tally, box, day)
                if status == b"deferred":
                    row[5] += 1
                else:
                    row[6] += 1
                continue
            prefixes = OK_PREFIXES.get(daemon)
            if prefixes is not None:
                if not rest.startswith(prefixes):
                    tally.bad += 1
            elif daemon not in QUIET:
                tally.bad += 1  # a daemon this version of kluis does not know

    def expire(self, today: dt.date, tally: MailTally) -> None:
        """Drop queue ids not completed within PENDING_DAYS."""
        limit = today - dt.timedelta(days=PENDING_DAYS)
        for qid in [q for q, s in self.pending.items() if s.seen < limit]:
            del self.pending[qid]
            tally.changed.discard(qid)
            if qid in self.stored:
                tally.removed.add(qid)
