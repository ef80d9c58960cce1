"""Ingesting log files like a log shipper, and batches of lines sent by a node.

A file is known by its identity, the SHA-256 of its first line, and read from the
offset where the last run stopped, counted in bytes of its uncompressed stream. So
`access.log`, renamed to `access.log.1` and compressed to `access.log.2.gz`, is one
file read once: rotation moves it, the identity and offset follow it. (Compressing
makes a new inode; the inode is recorded, not part of the identity.) Files of a
source are read oldest first, so a Postfix queue id is followed across them.

Each chunk of lines is written in one transaction together with the file's new
offset: an interrupted run leaves the last chunk undone and the next run does it,
and a file read again counts nothing twice. A live file's last line without its
newline is left for the next run (nginx is still writing it); in a rotated file it
is final and counted as bad. A `.gz` that ends early keeps what was read, counts one
bad line and is finished.
"""

from __future__ import annotations

import datetime as dt
import glob
import gzip
import hashlib
import os
import re
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from django.db import IntegrityError, transaction
from django.utils import timezone

from kluis.sites.hosts import HostLookup
from kluis.usage import store
from kluis.usage.models import IngestBatch, LogFile, Mailbox
from kluis.usage.nginx import WebParser, WebTally
from kluis.usage.postfix import MailParser, MailTally
from kluis.vault.blind import BlindLookup

CHUNK_LINES = 200_000
READ_BYTES = 4 << 20  # a plain file is read this much at a time, in whole lines
KINDS = ("nginx", "postfix")


class BatchConflict(ValueError):
    """A batch id the node used before, now with other lines: nothing is counted."""


@dataclass(frozen=True)
class IngestResult:
    """What one batch did: lines counted, lines skipped, and whether it was a replay."""

    accepted: int
    skipped: int
    replayed: bool


@dataclass(frozen=True)
class Source:
    """A configured log: its kind, a glob of the live file and its rotations, and for
    `combined` nginx logs without a `$host` field the host the file belongs to."""

    kind: str
    pattern: str
    host: str = ""


@dataclass
class RunReport:
    files: int = 0
    lines: int = 0
    bad: int = 0
    unmatched: int = 0
    closed_days: int = 0
    bad_per_file: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"usage: {self.files} files, {self.lines} lines, {self.bad} bad, "
            f"{self.unmatched} of no known site or mailbox, {self.closed_days} days closed"
        )


_SOURCE = re.compile(r"(?P<kind>nginx|postfix)(?:@(?P<host>[^:\s]+))?:(?P<pattern>\S+)")


def parse_sources(text: str) -> list[Source]:
    """`nginx@shop.example:/var/log/nginx/shop.log* postfix:/var/log/mail.log*`."""
    sources = []
    for part in text.split():
        m = _SOURCE.fullmatch(part)
        if m is None:
            raise ValueError(f"not a log source: {part!r} (kind[@host]:glob)")
        sources.append(Source(m["kind"], m["pattern"], m["host"] or ""))
    return sources


# --- what lines are matched against -------------------------------------------------


class MailboxLookup(BlindLookup[uuid.UUID]):
    """A running customer mailbox's id by address, through the mailboxes' blind index.

    Correspondents' addresses pass through this cache in memory only; it is emptied
    when full and dropped with the run.
    """

    def __init__(self) -> None:
        super().__init__(
            "email",
            dict(
                Mailbox.objects.filter(ended_at__isnull=True)
                .exclude(address_index=None)
                .values_list("address_index", "pk")
            ),
        )


class Ingester:
    """One run's parsers and state, shared by its files and batches."""

    def __init__(
        self, node: str, today: dt.date | None = None, *, site_node: int | None = None
    ) -> None:
        self.node = node
        self.today = today or timezone.localdate()
        # Host names are sealed: a line's host is found through their blind index; with
        # `site_node` (a HostingNode's id) only among that node's sites.
        self.hosts = HostLookup(site_node)
        self._salts: dict[dt.date, bytes | None] = {}
        self._mail: MailParser | None = None
        self._mail_version: int | None = None  # of the queue state the parser holds

    def salt(self, day: dt.date) -> bytes | None:
        if day not in self._salts:
            self._salts[day] = store.salt_for(day, self.today)
        return self._salts[day]

    def web(self, host: str = "") -> WebParser:
        return WebParser({}, self.salt, host.lower().encode() or None, lookup=self.hosts)

    def mail(self) -> MailParser:
        """The mail parser with the node's current queue state, the state locked until
        the transaction ends: call inside the transaction that writes what it parses
        (`write_mail`). Another batch or run of the node that wrote meanwhile makes
        it read the state again."""
        version = store.queue_lock(self.node)
        if self._mail is None:
            self._mail = MailParser(MailboxLookup(), store.load_pending(self.node), self.today)
        elif version != self._mail_version:
            self._mail.pending = store.load_pending(self.node)
            self._mail.stored = set(self._mail.pending)
        # Until the write succeeds, the state in memory is no one's: read it again.
        self._mail_version = None
        transaction.on_commit(lambda: setattr(self, "_mail_version", version))
        return self._mail

    def mail_written(self, tally: MailTally, parser: MailParser) -> None:
        version = store.write_mail(tally, self.node, parser.pending, parser.stored)
        transaction.on_commit(lambda: setattr(self, "_mail_version", version))


# --- files ------------------------------------------------------------------------------


def _rotation_order(path: str) -> tuple[int, str]:
    """Oldest first: access.log.3.gz, access.log.2.gz, access.log.1, access.log."""
    m = re.search(r"\.(\d+)(?:\.gz)?$", path)
    return (-int(m.group(1)) if m else 0, path)


def _open(path: str) -> IO[bytes]:
    if path.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _head(path: str) -> bytes | None:
    """The file's first complete line, or None while it has none."""
    try:
        with _open(path) as f:
            line = f.readline(64 * 1024)
    except (OSError, EOFError, zlib.error):
        return None
    return line if line.endswith(b"\n") else None


def _lines(f: IO[bytes], live: bool, state: dict[str, int]) -> Iterator[bytes]:
    """Complete lines from the current position; `state` gets the bytes consumed,
    the trailing partial line (bad in a finished file) and whether the stream broke."""
    try:
        for line in f:
            if not line.endswith(b"\n"):
                if not live:
                    state["consumed"] += len(line)
                    state["partial"] = 1
                return
            state["consumed"] += len(line)
            yield line
    except (EOFError, zlib.error, gzip.BadGzipFile):
        state["broken"] = 1


def _blocks(
    f: IO[bytes], live: bool, state: dict[str, int], size: int
) -> Iterator[tuple[list[bytes], bool]]:
    """A plain file's complete lines in pieces as read, by `readlines` a few MiB at a
    time, each with whether it ends a chunk of `size` lines. A piece is parsed as soon
    as it is read and then let go, so the lines of a whole chunk are never held at once
    (and stay in the processor's cache while they are parsed). (A `.gz` is read by
    `_lines`: its stream may break midway, and every line before the break counts.)"""
    left = size  # lines until the chunk ends
    last = b""
    while True:
        block = f.readlines(READ_BYTES)
        if not block:
            break
        if not block[-1].endswith(b"\n"):
            last = block.pop()  # only the last line read can lack its newline
        while len(block) >= left:
            piece, block = block[:left], block[left:]
            state["consumed"] += sum(map(len, piece))
            yield piece, True
            left = size
        if block:
            state["consumed"] += sum(map(len, block))
            left -= len(block)
            yield block, False
        if last:
            break
    if left < size:
        yield [], True  # the end of the last, shorter chunk
    if last and not live:
        state["consumed"] += len(last)
        state["partial"] = 1


def _chunks(lines: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def ingest_file(
    ingester: Ingester,
    source: Source,
    path: str,
    *,
    live: bool,
    report: RunReport,
    advance: Callable[[int], None] | None = None,
    chunk_lines: int = CHUNK_LINES,
) -> None:
    head = _head(path)
    if head is None:
        return
    identity = hashlib.sha256(head).hexdigest()
    record, _ = LogFile.objects.get_or_create(
        node=ingester.node, kind=source.kind, head=identity, defaults={"path": path}
    )
    if record.finished:
        return
    report.files += 1
    compressed = path.endswith(".gz")
    with _open(path) as f:
        if compressed:
            remaining = record.offset
            while remaining > 0:
                got = len(f.read(min(remaining, 1 << 20)))
                if not got:
                    break
                remaining -= got
        else:
            f.seek(record.offset)
        state = {"consumed": 0, "partial": 0, "broken": 0}
        web = ingester.web(source.host) if source.kind == "nginx" else None
        before = 0
        pieces = (
            ((chunk, True) for chunk in _chunks(_lines(f, live, state), chunk_lines))
            if compressed
            else _blocks(f, live, state, chunk_lines)
        )
        web_tally = WebTally()
        mail_lines: list[list[bytes]] = []
        read = 0
        for piece, ends_chunk in pieces:
            read += len(piece)
            # Web lines are parsed as read, before the transaction; mail lines inside
            # it, after the node's queue state is locked.
            if web is not None:
                web.feed(piece, web_tally)
            else:
                mail_lines.append(piece)
            if not ends_chunk:
                continue
            with transaction.atomic():
                parser = web if web is not None else ingester.mail()
                tally: WebTally | MailTally = web_tally
                if isinstance(parser, MailParser):
                    tally = MailTally()
                    for lines in mail_lines:
                        parser.feed(lines, tally)
                _write(tally, ingester, parser)
                _advance(record, state["consumed"] - before, tally)
                record.path, record.inode = path, _inode(path)
                record.save()
            before = state["consumed"]
            _count(report, record, tally)
            if advance is not None:
                advance(read)
            web_tally, mail_lines, read = WebTally(), [], 0
        tail_bad = state["partial"] + state["broken"]
        if tail_bad or compressed or state["consumed"] != before:
            with transaction.atomic():
                record.offset += state["consumed"] - before
                record.bad += tail_bad
                record.finished = compressed or bool(state["broken"])
                record.updated_at = timezone.now()
                record.save()
            report.bad += tail_bad
            if tail_bad:
                report.bad_per_file[path] = report.bad_per_file.get(path, 0) + tail_bad


def _inode(path: str) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return 0


def _feed(parser: WebParser | MailParser, chunk: list[bytes]) -> WebTally | MailTally:
    if isinstance(parser, WebParser):
        web = WebTally()
        parser.feed(chunk, web)
        return web
    mail = MailTally()
    parser.feed(chunk, mail)
    return mail


def _write(tally: WebTally | MailTally, ingester: Ingester, parser: object) -> None:
    if isinstance(tally, WebTally):
        store.write_web(tally, ingester.salt)
    else:
        assert isinstance(parser, MailParser)
        ingester.mail_written(tally, parser)


def _advance(record: LogFile, consumed: int, tally: WebTally | MailTally) -> None:
    record.offset += consumed
    record.lines += tally.lines
    record.bad += tally.bad
    record.unmatched += tally.unmatched
    record.updated_at = timezone.now()


def _count(report: RunReport, record: LogFile, tally: WebTally | MailTally) -> None:
    report.lines += tally.lines
    report.bad += tally.bad
    report.unmatched += tally.unmatched
    if tally.bad:
        report.bad_per_file[record.path] = report.bad_per_file.get(record.path, 0) + tally.bad


def source_files(source: Source) -> list[str]:
    return sorted(glob.glob(source.pattern), key=_rotation_order)


def ingest_sources(
    sources: list[Source],
    *,
    node: str,
    today: dt.date | None = None,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
    chunk_lines: int = CHUNK_LINES,
) -> RunReport:
    """Read every configured file from where it stopped, then close the days due.

    `progress(path, size)` may return a callback that is told how many lines were done.
    """
    ingester = Ingester(node, today)
    report = RunReport()
    for source in sources:
        files = source_files(source)
        for path in files:
            advance = progress(path, os.path.getsize(path)) if progress else None
            ingest_file(
                ingester,
                source,
                path,
                live=path == files[-1] and not path.endswith(".gz"),
                report=report,
                advance=advance,
                chunk_lines=chunk_lines,
            )
    if any(source.kind == "postfix" for source in sources):
        tally = MailTally()
        with transaction.atomic():
            parser = ingester.mail()
            parser.expire(ingester.today, tally)
            ingester.mail_written(tally, parser)
    report.closed_days = store.days_close(ingester.today)
    return report


# --- batches from the REST API -----------------------------------------------------------


def _batch_digest(kind: str, lines: list[str]) -> str:
    digest = hashlib.sha256(kind.encode())
    for line in lines:
        digest.update(b"\n" + line.rstrip("\n").encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _seen(node: str, batch_id: str, digest: str) -> bool:
    """Whether the node sent this batch before; BatchConflict if with other lines."""
    known = IngestBatch.objects.filter(node=node, batch_id=batch_id).values_list(
        "digest", flat=True
    )
    for earlier in known:
        if earlier and earlier != digest:
            raise BatchConflict(batch_id)
        return True
    return False


def ingest_batch(
    *, node: str, kind: str, batch_id: str, lines: list[str], site_node: int | None = None
) -> IngestResult:
    """Ingest one batch of log lines shipped by a hosting node; safe to replay.

    - `node`: the sending node's name (its queue state and batches are its own).
    - `kind`: "nginx" (lines in the JSON `log_format kluis`, or `combined` with a
      trailing `"$host"` field: a batch carries no file to take a host from) or
      "postfix" (syslog lines of the Postfix daemons).
    - `batch_id`: the node's id for this batch. Idempotent by `(node, batch_id)`: the
      batch is recorded in the same transaction as its counts, so a replay of a batch
      already taken counts nothing and returns `replayed=True` with zero counts. The
      same id with other lines raises `BatchConflict` and counts nothing either.
    - `lines`: the lines, with or without their newline. A line that does not parse
      is skipped and counted; so is a line of no known site or mailbox.
    - `site_node`: the HostingNode the sending token is bound to, if any: a web line
      for a host of a site on another node (or on none) is skipped and counted like a
      host of no known site, so one node cannot add to another node's sites' counts.

    Returns `IngestResult(accepted, skipped, replayed)`. Raises ValueError for an
    unknown kind or an empty node or batch id. Days due are closed afterwards.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown log kind {kind!r}: nginx or postfix")
    if not node or not batch_id:
        raise ValueError("node and batch_id are required")
    digest = _batch_digest(kind, lines)
    if _seen(node, batch_id, digest):
        return IngestResult(accepted=0, skipped=0, replayed=True)
    ingester = Ingester(node, site_node=site_node)
    raw = [line.encode("utf-8", "surrogateescape") for line in lines]
    web = ingester.web() if kind == "nginx" else None
    # Web lines are parsed before the transaction; mail lines inside it, after the
    # node's queue state is locked, so two batches of a node take turns.
    tally = _feed(web, raw) if web is not None else None
    try:
        with transaction.atomic():
            parser = web if web is not None else ingester.mail()
            if tally is None:
                tally = _feed(parser, raw)
            skipped = tally.bad + tally.unmatched
            IngestBatch.objects.create(
                node=node,
                batch_id=batch_id,
                kind=kind,
                digest=digest,
                accepted=tally.lines - skipped,
                skipped=skipped,
            )
            _write(tally, ingester, parser)
    except IntegrityError:
        # The same batch at the same moment from elsewhere: that one counted.
        _seen(node, batch_id, digest)
        return IngestResult(accepted=0, skipped=0, replayed=True)
    store.days_close(ingester.today)
    return IngestResult(accepted=tally.lines - skipped, skipped=skipped, replayed=False)
