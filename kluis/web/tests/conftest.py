"""Personas, a real SMTP server (the mail app's fixture) and compiled translations."""

from __future__ import annotations

import pytest
from django.test import Client

from kluis.mail.tests.conftest import smtp_server, smtp_settings  # noqa: F401 (fixtures)


@pytest.fixture
def visitor() -> Client:
    """A first-time visitor: no cookies at all."""
    return Client(REMOTE_ADDR="198.51.100.23")
