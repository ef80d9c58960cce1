"""Fixtures of the sites' tests: the firewall files in a directory of the test's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings


@pytest.fixture(autouse=True)
def firewall_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "firewall"
    monkeypatch.setattr(settings, "KLUIS_FIREWALL_DIR", path)
    monkeypatch.setattr(settings, "KLUIS_FIREWALL_RELOAD", "")
    monkeypatch.setattr(settings, "KLUIS_TRUSTED_PROXIES", [])
    monkeypatch.setattr(settings, "KLUIS_ALLOWLIST_LOCAL", False)
    return path
