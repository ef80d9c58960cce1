"""Shared pytest set-up: a master key for the test run, and the database markers."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings


@pytest.fixture(scope="session", autouse=True)
def _master_key_file() -> None:
    from kluis.vault.master import generate_key_file, reset_master_ring

    path = Path(settings.KLUIS_MASTER_KEY_FILE)
    if not path.exists():
        generate_key_file(path)
    reset_master_ring()


@pytest.fixture(autouse=True)
def _fresh_policy_cache() -> None:
    from kluis.policy.loader import clear_cache

    clear_cache()
