"""Personas, a real SMTP server (the mail app's fixture) and compiled translations."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client

from kluis.mail.tests.conftest import smtp_server, smtp_settings  # noqa: F401 (fixtures)
from kluis.testing import Personas, make_personas


@pytest.fixture(scope="session", autouse=True)
def _site_translations() -> None:
    """Compile the project catalogue when `make messages` has not (a bare pytest run)."""
    po = Path(__file__).resolve().parents[2] / "locale" / "en" / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        return
    partial = mo.with_name(f"django.{os.getpid()}.mo.tmp")
    subprocess.run(["msgfmt", "-o", str(partial), str(po)], check=True)
    os.replace(partial, mo)


@pytest.fixture
def personas(db: None) -> Personas:
    people = make_personas()
    mail.outbox.clear()
    return people


@pytest.fixture
def visitor() -> Client:
    """A first-time visitor: no cookies at all."""
    return Client(REMOTE_ADDR="198.51.100.23")
