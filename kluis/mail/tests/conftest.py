"""A real SMTP server on loopback (aiosmtpd), and the ways to point kluis at it."""

from __future__ import annotations

import email
import email.policy
import os
import socket
import subprocess
import sys
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connections

from kluis.mail.emails import mail_test_message
from kluis.mail.models import OutboxMessage

ADDRESS = "jan@example.nl"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())

    def attachments(self) -> list[tuple[str, str, bytes]]:
        found = []
        for part in self.message.iter_attachments():
            content = part.get_payload(decode=True)
            assert isinstance(content, bytes)
            found.append((str(part.get_filename()), part.get_content_type(), content))
        return found


class Inbox:
    """An aiosmtpd handler that keeps what it accepts and answers as scripted."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        # Replies to give instead of accepting, one per message, in order.
        self.data_replies: deque[str] = deque()
        self.rcpt_replies: deque[str] = deque()
        # Called with each message the server has in hand, before it answers.
        self.on_data: Callable[[], None] | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.popleft()
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        if self.on_data is not None:
            self.on_data()
        return "250 2.0.0 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox

    @property
    def received(self) -> list[Received]:
        return self.inbox.received

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}?timeout=10"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    inbox = Inbox()
    for _ in range(5):
        controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
        try:
            controller.start()
            break
        except OSError:  # the port was taken between probe and bind; try another
            continue
    else:
        pytest.fail("no free port for the SMTP server")
    try:
        yield SmtpServer("127.0.0.1", controller.port, inbox)
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(settings: Any, smtp_server: SmtpServer) -> SmtpServer:
    """This process's configured backend (what EMAIL_URL sets) aimed at the server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    return smtp_server


def queue_test_mail(**overrides: Any) -> OutboxMessage:
    values: dict[str, Any] = {
        "to_subject": uuid.uuid4(),
        "recipient_email": ADDRESS,
        "language": "nl",
    }
    values.update(overrides)
    return mail_test_message(**values)


# --- a worker in a process of its own, on the test databases ---------------------------


def database_url(alias: str) -> str:
    """The URL of the test database behind `alias`, for a subprocess to open."""
    config = connections[alias].settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    user = quote(config.get("USER") or "", safe="")
    password = quote(config.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = config.get("HOST") or "localhost"
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(config['NAME'], safe='')}"


def worker_env(server: SmtpServer, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KLUIS_", "DJANGO_")) and k not in ("DATABASE_URL", "EMAIL_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="kluis.settings",
        KLUIS_VAR_DIR=str(settings.VAR_DIR),
        KLUIS_MASTER_KEY_FILE=str(settings.KLUIS_MASTER_KEY_FILE),
        KLUIS_POLICY_DIR=str(settings.KLUIS_POLICY_DIR),
        DATABASE_URL=database_url("default"),
        KLUIS_KEYSTORE_URL=database_url("keystore"),
        EMAIL_URL=server.url,
    )
    if "KLUIS_MASTER_KEY" in os.environ:
        env["KLUIS_MASTER_KEY"] = os.environ["KLUIS_MASTER_KEY"]
    env.update(extra)
    return env


def start_worker(server: SmtpServer, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "mail_worker", "--once"],
        cwd=settings.BASE_DIR,
        env=worker_env(server, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_worker(server: SmtpServer, **extra: str) -> subprocess.CompletedProcess[str]:
    process = start_worker(server, **extra)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
