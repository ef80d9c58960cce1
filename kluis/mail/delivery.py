"""Delivery of the outbox: render, send, record; and what a crash does to that.

For each due mail the worker (1) claims it with a conditional UPDATE and commits,
(2) renders it from its references and reveals the address, (3) hands it to the
configured backend (EMAIL_URL), and (4) as soon as the server has accepted it,
commits "sent". Where a crash lands decides what happens:

- before (3) finished: the mail stays "sending" until its lease runs out, then a
  worker takes it over and sends it; it was not sent before, so it arrives once;
- between the server's acceptance in (3) and the commit in (4): the mail has been
  delivered, but the outbox cannot know. When the lease runs out it is sent again,
  with the same Message-ID header it was given when it was queued. Plain SMTP has
  no way to make this exactly-once; receivers (and our relay, where it can) drop a
  second copy by Message-ID, as RFC 5322 section 3.6.4 intends. The window is kept
  as small as it can be: nothing happens between the acceptance and that commit,
  and the SMTP connection stays open so no QUIT round trip sits in between.

So no mail is lost, and the only duplicate possible is one that carries the same
Message-ID. SMTP 4xx replies and connection trouble are retried with exponential
backoff; a 5xx refusal of the recipient or the message, or a recipient whose key
was shredded, fails the mail at once. No step records a server's reply text or an
address: those can carry personal data.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.template import Context, Engine
from django.template.loader import render_to_string
from django.utils import timezone, translation

from kluis.audit.reveals import reveal_batch
from kluis.mail.kinds import UnknownKind, get_generator, get_kind
from kluis.mail.models import OutboxMessage
from kluis.mail.services import (
    MAILER,
    MAX_ATTEMPTS,
    mail_claim,
    mail_record_failure,
    mail_record_sent,
)
from kluis.vault import keys
from kluis.vault.errors import KeyShredded, RevealRefused

logger = logging.getLogger(__name__)

SUBJECT_MAX = 200
SITE_NAME = "winkeltjes.net"

# Called after a step ("claimed", "accepted") of one mail; the crash tests kill the
# worker there (see the mail_worker command).
StepHook = Callable[[str, OutboxMessage], None]


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def _render_text(name: str, context: dict[str, Any]) -> str:
    # Subject and plain text are not HTML: rendered without autoescaping, so
    # "Jansen & Zn" stays as typed. A value still never becomes template source.
    template = Engine.get_default().get_template(name)
    return template.render(Context(context, autoescape=False))


def render_mail(*, template: str, language: str, context: Mapping[str, Any]) -> RenderedMail:
    """A kind's three templates, in `language`; the subject on one line."""
    full = {"site_name": SITE_NAME, "base_url": settings.KLUIS_BASE_URL, **context}
    with translation.override(language):
        subject = _render_text(f"{template}/subject.txt", full)
        text = _render_text(f"{template}/body.txt", full)
        html = render_to_string(f"{template}/body.html", full)
    # A newline in a header would start a new header: fold every kind of line break
    # and run of white space into one space.
    return RenderedMail(" ".join(subject.split())[:SUBJECT_MAX], text, html)


def build_email(
    message: OutboxMessage, *, connection: BaseEmailBackend | None = None
) -> EmailMultiAlternatives:
    """The mail as it goes out; reveals the address and the kind's context as the mailer."""
    kind = get_kind(message.template)
    sealed = message.sealed_recipient
    if sealed is None:
        raise ObjectDoesNotExist("the mail has no recipient address any more")
    recipient = sealed.reveal(purpose=kind.purpose, actor=MAILER)
    with translation.override(message.language):  # for what the loader itself words
        context = kind.load(message.context, MAILER)
    rendered = render_mail(template=kind.template, language=message.language, context=context)
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        headers={"Message-ID": message.message_id, "Auto-Submitted": "auto-generated"},
        connection=connection,
    )
    email.attach_alternative(rendered.html, "text/html")
    for attachment in message.attachments.all():
        content = get_generator(attachment.generator)(attachment.ref, MAILER)
        email.attach(attachment.filename, content, attachment.mimetype)
    return email


# --- the worker's pass ----------------------------------------------------------------


@dataclass
class PassReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    # Taken by another worker between our look and our claim.
    missed: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed


def due_mail(*, now: dt.datetime, limit: int) -> list[uuid.UUID]:
    """Ids of the mail a worker may claim now, longest due first."""
    return list(
        OutboxMessage.objects.claimable(now)
        .order_by("next_attempt_at", "created_at")
        .values_list("pk", flat=True)[:limit]
    )


def deliver_due(
    *,
    worker: str,
    batch: int = 50,
    now: dt.datetime | None = None,
    connection: BaseEmailBackend | None = None,
    on_step: StepHook | None = None,
    stop: Callable[[], bool] | None = None,
) -> PassReport:
    """One pass: claim and deliver up to `batch` due mails, one at a time.

    Must run outside any transaction: each step commits on its own (the durable
    services refuse to run inside another transaction).
    """
    clock: Callable[[], dt.datetime] = (lambda: now) if now is not None else timezone.now
    backend = connection or get_connection(fail_silently=False)
    report = PassReport()
    try:
        for pk in due_mail(now=clock(), limit=batch):
            if stop is not None and stop():
                break
            message = mail_claim(message_id=pk, worker=worker, now=clock())
            if message is None:
                report.missed += 1
                continue
            if on_step is not None:
                on_step("claimed", message)
            outcome = _deliver(
                message, worker=worker, backend=backend, clock=clock, on_step=on_step
            )
            if outcome == "sent":
                report.sent += 1
            elif outcome == "retried":
                report.retried += 1
            else:
                report.failed += 1
    finally:
        _close(backend)
    return report


def _deliver(
    message: OutboxMessage,
    *,
    worker: str,
    backend: BaseEmailBackend,
    clock: Callable[[], dt.datetime],
    on_step: StepHook | None,
) -> str:
    if message.attempts > MAX_ATTEMPTS:
        # Claimed again and again without ever reporting back: each attempt killed its
        # worker. Stop before this mail takes down the next one.
        return _failed(message, worker, f"GaveUp: {MAX_ATTEMPTS} attempts", True, clock)
    try:
        with keys.key_scope(), reveal_batch():
            email = build_email(message, connection=backend)
    except (KeyShredded, RevealRefused, UnknownKind, ObjectDoesNotExist) as exc:
        return _failed(message, worker, type(exc).__name__, True, clock)
    except Exception as exc:
        logger.exception("mail %s could not be rendered", message.pk)
        return _failed(message, worker, type(exc).__name__, False, clock)
    try:
        backend.open()
        sent = backend.send_messages([email])
    except Exception as exc:
        _close(backend)  # the session may be in any state; the next mail opens a new one
        error, permanent = describe_error(exc)
        return _failed(message, worker, error, permanent, clock)
    if sent != 1:
        return _failed(message, worker, "NotSent: the backend took no message", False, clock)
    if on_step is not None:
        on_step("accepted", message)
    if not mail_record_sent(message=message, worker=worker, now=clock()):
        logger.warning("mail %s was sent after its lease ran out", message.pk)
    logger.info("mail %s sent (attempt %d)", message.pk, message.attempts)
    return "sent"


def _failed(
    message: OutboxMessage,
    worker: str,
    error: str,
    permanent: bool,
    clock: Callable[[], dt.datetime],
) -> str:
    status = mail_record_failure(
        message=message, worker=worker, error=error, permanent=permanent, now=clock()
    )
    logger.warning("mail %s attempt %d: %s", message.pk, message.attempts, error)
    return "failed" if status == OutboxMessage.Status.FAILED else "retried"


_ENHANCED_CODE = re.compile(rb"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


def describe_error(exc: BaseException) -> tuple[str, bool]:
    """The error's class and SMTP codes, and whether retrying cannot help.

    Only a 5xx refusal of the recipient or of the message itself is permanent; a
    5xx at login or for the sender is our configuration, which an operator fixes.
    """
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in exc.recipients.values()]
        return f"{name} {' '.join(str(c) for c in codes)}", all(c >= 500 for c in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        reply = exc.smtp_error if isinstance(exc.smtp_error, bytes) else b""
        enhanced = _ENHANCED_CODE.match(reply)
        detail = f" {enhanced.group(1).decode()}" if enhanced else ""
        permanent = isinstance(exc, smtplib.SMTPDataError) and code >= 500
        return f"{name} {code}{detail}", permanent
    return name, False


def _close(backend: BaseEmailBackend) -> None:
    try:
        backend.close()
    except Exception:
        logger.warning("closing the mail connection failed", exc_info=True)
