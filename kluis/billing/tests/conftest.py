"""Fixtures of the billing tests: the recorded VIES server (personas, with the VAT
rate table loaded again, come from the root conftest)."""

from __future__ import annotations

import pytest

from kluis.shop.tests.conftest import vies  # noqa: F401 (the recorded VIES server)


@pytest.fixture
def read_in_child(monkeypatch):
    """Every statement file read in a child process (kluis.billing.camt_ahead, from
    size 0 on); the list of children started, to look at after."""
    import subprocess

    from kluis.billing import camt_ahead

    started: list[subprocess.Popen[bytes]] = []

    class Spy(subprocess.Popen[bytes]):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(camt_ahead, "READ_AHEAD_BYTES", 0)
    monkeypatch.setattr(subprocess, "Popen", Spy)
    return started
