"""Postfix logs into per-mailbox, per-day counts, following queue ids across files."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from kluis.usage import postfix
from kluis.usage.ingest import Source, ingest_batch, ingest_sources
from kluis.usage.models import Mailbox, MailDay, PendingMessage

from .lines import syslog

pytestmark = pytest.mark.django_db(databases="__all__")

SHOP = "info@shop.example.nl"


@pytest.fixture
def box(personas):
    mailbox = Mailbox(customer=personas.customer_a, address=SHOP)
    mailbox.save()
    return mailbox


def _delivery(day, agent, qid, to, status, dsn="2.0.0", relay="mx.elders.example[203.0.113.5]:25"):
    said = {
        "sent": "(250 2.0.0 Ok: queued as 4ABCD)",
        "deferred": "(host mx.elders.example[203.0.113.5] said: 451 4.7.1 Try again later)",
        "bounced": "(host mx.elders.example[203.0.113.5] said: 550 5.1.1 No such user)",
    }[status]
    return syslog(
        day,
        agent,
        f"{qid}: to=<{to}>, relay={relay}, delay=1.2, delays=0.1/0.01/0.5/0.6, "
        f"dsn={dsn}, status={status} {said}",
    )


def test_messages_are_followed_by_queue_id_across_files(box, today, tmp_path):
    d = today
    first = [
        # Sent by the customer to three correspondents (one deferred, then delivered;
        # one bounced), over submission with SASL.
        syslog(
            d,
            "submission/smtpd",
            f"3F1A2B4C5D: client=unknown[198.51.100.7], sasl_method=PLAIN, sasl_username={SHOP}",
        ),
        syslog(d, "cleanup", "3F1A2B4C5D: message-id=<geheim-id@shop.example.nl>"),
        syslog(d, "qmgr", f"3F1A2B4C5D: from=<{SHOP}>, size=20480, nrcpt=3 (queue active)"),
        _delivery(d, "smtp", "3F1A2B4C5D", "jan@elders.example", "sent"),
        _delivery(d, "smtp", "3F1A2B4C5D", "piet@elders.example", "deferred", dsn="4.7.1"),
        _delivery(d, "smtp", "3F1A2B4C5D", "nobody@elders.example", "bounced", dsn="5.1.1"),
        syslog(d, "bounce", "3F1A2B4C5D: sender non-delivery notification: 7E6D5C4B3A"),
        # Received from outside, for the customer and for someone else.
        syslog(d, "smtpd", "9A8B7C6D5E: client=mail.elders.example[203.0.113.9]"),
        syslog(d, "cleanup", "9A8B7C6D5E: message-id=<ander-id@elders.example>"),
        syslog(
            d, "qmgr", "9A8B7C6D5E: from=<kees@elders.example>, size=4096, nrcpt=2 (queue active)"
        ),
        _delivery(d, "lmtp", "9A8B7C6D5E", SHOP, "sent", relay="dovecot"),
        _delivery(d, "virtual", "9A8B7C6D5E", "iemand@anders.example", "sent", relay="virtual"),
        syslog(d, "qmgr", "9A8B7C6D5E: removed"),
        # A line from a version this code does not know, and one of a daemon it does not.
        syslog(
            d, "qmgr", "9A8B7C6D5E: from=<x@y.example>, size=12, nrcpt=1, class=bulk (queue active)"
        ),
        syslog(d, "smtp", "3F1A2B4C5D: to=<a@b.example>, relay=none, status=quarantined"),
        syslog(d, "frobnicator", "3F1A2B4C5D: something new"),
        "Dec  5 03:04:05 mx1 postfix/smtpd[12]: connect from mail.elders.example[203.0.113.9]\n",
        "\x00\x01 binary garbage\n",
    ]
    (tmp_path / "mail.log.1").write_text("".join(first))
    # The next file: the deferred recipient is delivered after qmgr logs the message
    # again; the first file's queue id completes here.
    second = [
        syslog(d, "qmgr", f"3F1A2B4C5D: from=<{SHOP}>, size=20480, nrcpt=3 (queue active)", 9),
        _delivery(d, "smtp", "3F1A2B4C5D", "piet@elders.example", "sent"),
        syslog(d, "qmgr", "3F1A2B4C5D: removed", 9),
        # A message that never completes.
        syslog(d, "qmgr", f"5B5B5B5B5B: from=<{SHOP}>, size=100, nrcpt=1 (queue active)", 9),
    ]
    (tmp_path / "mail.log").write_text("".join(second))
    source = Source("postfix", f"{tmp_path}/mail.log*")

    report = ingest_sources([source], node="mx1", today=today)

    row = MailDay.objects.get(mailbox=box, day=d)
    assert (row.sent, row.sent_bytes, row.recipients) == (2, 20480 + 100, 3 + 1)
    assert (row.received, row.received_bytes) == (1, 4096)
    assert (row.deferred, row.bounced) == (1, 1)
    assert report.bad == 4  # the unknown version's two lines, the unknown daemon, garbage
    assert list(PendingMessage.objects.values_list("queue_id", flat=True)) == ["5B5B5B5B5B"]

    # Read again: nothing counted twice. Then a week later the open queue id is dropped.
    ingest_sources([source], node="mx1", today=today)
    assert MailDay.objects.get(pk=row.pk).sent == 2
    ingest_sources([source], node="mx1", today=today + dt.timedelta(days=8))
    assert not PendingMessage.objects.exists()


def test_a_batch_of_mail_lines_counts_once(box, today):
    lines = [
        syslog(today, "qmgr", f"1A1A1A1A1A: from=<{SHOP}>, size=300, nrcpt=1 (queue active)"),
        _delivery(today, "smtp", "1A1A1A1A1A", "jan@elders.example", "sent"),
    ]
    assert ingest_batch(node="mx1", kind="postfix", batch_id="m1", lines=lines).accepted == 2
    assert ingest_batch(node="mx1", kind="postfix", batch_id="m1", lines=lines).replayed
    assert MailDay.objects.get(mailbox=box).sent == 1
    with pytest.raises(ValueError, match="unknown log kind"):
        ingest_batch(node="mx1", kind="exim", batch_id="m2", lines=lines)


def test_a_queue_id_that_never_completes_cannot_grow_memory(monkeypatch, today):
    monkeypatch.setattr(postfix, "MAX_PENDING", 100)
    pending: dict[bytes, postfix.Pending] = {}
    parser = postfix.MailParser(lambda a: None, pending, today)
    lines = (
        syslog(
            today, "qmgr", f"{n:010X}: from=<a@b.example>, size=1, nrcpt=1 (queue active)"
        ).encode()
        for n in range(10_000)
    )
    parser.feed(lines, postfix.MailTally())
    assert len(pending) == 100


def test_the_copy_holds_the_day_counts_of_the_customers_site_and_mailbox(box, shop, today):
    from kluis.policy.enforce import Actor
    from kluis.rights.export import build_export

    from .lines import combined

    web = [combined(today, f"145.100.3.{n}", "/", host="shop.example.nl") for n in range(3)]
    ingest_batch(node="web1", kind="nginx", batch_id="w1", lines=web)
    mail = [
        syslog(today, "qmgr", f"1A1A1A1A1A: from=<{SHOP}>, size=300, nrcpt=1 (queue active)"),
        _delivery(today, "smtp", "1A1A1A1A1A", "jan@elders.example", "sent"),
    ]
    ingest_batch(node="mx1", kind="postfix", batch_id="m1", lines=mail)
    subject = box.customer_id
    export = build_export(subject=subject, actor=Actor.system("rights"), language="nl")
    records = {r["kind"]: r for r in export["records"]}
    site = records["gebruik van je site"]
    assert site["reference"] == str(shop.pk) and site["date"] == today.isoformat()
    assert {"label": "verzoeken", "value": "3"} in site["facts"]
    sent = records["mailverkeer van je mailbox"]
    assert sent["reference"] == str(box.pk)
    assert {"label": "verstuurd", "value": "1 (300\xa0bytes)"} in sent["facts"]
    assert "jan@elders.example" not in str(export)
    other = build_export(subject=uuid.uuid4(), actor=Actor.system("rights"), language="nl")
    assert not [r for r in other["records"] if r["kind"].startswith(("gebruik", "mailverkeer"))]


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_two_batches_of_a_node_at_once_take_turns_with_its_queue_state(box, today, monkeypatch):
    """Batch "a" has written its queue state but not committed when batch "b" of the
    same node starts. "b" must wait and then see "a"'s state: qmgr logs the message's
    from= line again after the deferral, and a "b" that read the state before "a"
    committed would count the message as sent a second time."""
    import threading
    import time

    from django.db import connections

    from kluis.usage import store

    first = [
        syslog(today, "qmgr", f"5E5E5E5E5E: from=<{SHOP}>, size=7000, nrcpt=1 (queue active)"),
    ]
    second = [
        _delivery(today, "smtp", "5E5E5E5E5E", "jan@elders.example", "deferred", dsn="4.7.1"),
        syslog(today, "qmgr", f"5E5E5E5E5E: from=<{SHOP}>, size=7000, nrcpt=1 (queue active)"),
    ]
    written, go = threading.Event(), threading.Event()
    original = store.write_mail
    errors: list[BaseException] = []

    def write_then_wait(*args, **kwargs):
        version = original(*args, **kwargs)
        if threading.current_thread().name == "a":
            written.set()
            go.wait(20)  # still inside "a"'s transaction
        return version

    monkeypatch.setattr(store, "write_mail", write_then_wait)

    def run(batch_id: str, lines: list[str]) -> None:
        try:
            ingest_batch(node="mx1", kind="postfix", batch_id=batch_id, lines=lines)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    a = threading.Thread(target=run, args=("a", first), name="a")
    b = threading.Thread(target=run, args=("b", second), name="b")
    a.start()
    assert written.wait(20)
    b.start()
    time.sleep(1.0)  # "b" reads the queue state now, unless it waits for "a"
    go.set()
    a.join(30)
    b.join(30)
    assert errors == []
    day = MailDay.objects.get(mailbox=box, day=today)
    assert (day.sent, day.sent_bytes, day.deferred) == (1, 7000, 1)
    state = PendingMessage.objects.get(node="mx1", queue_id="5E5E5E5E5E")
    assert state.counted and state.sender_id == box.pk
