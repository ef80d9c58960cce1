"""Shared pytest set-up: the master key, translations, personas and the browser."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.contrib.staticfiles import handlers
from django.core import mail
from django.db import connections

from kluis.testing import Personas, make_personas

if TYPE_CHECKING:
    from kluis.policy.schema import Policy

CHROMIUM = Path(os.environ.get("KLUIS_CHROMIUM", "/usr/bin/chromium"))
# Under CI a missing browser fails the browser tests instead of skipping them.
IN_CI = os.environ.get("CI", "") in {"true", "1"}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Browser tests mark themselves with this: they skip, saying why, without Chromium
# (outside CI).
browser_test = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not IN_CI,
        reason="no /usr/bin/chromium: run `make browser` (apt) first",
    ),
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """The keystore's test database gets its tables straight from the vault's models.

    Its migrations are schema only (no data, no SQL of their own); replaying them would
    render every app's migration state once more for the data migrations of the main
    database, which make up most of the cost of setting up a test database.
    """
    settings.DATABASES["keystore"].setdefault("TEST", {})["MIGRATE"] = False


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> None:
    """Argon2id at its smallest cost in tests; the production parameters are checked in
    kluis/accounts/tests/test_passwords.py."""
    from django.test import override_settings

    override_settings(PASSWORD_HASHERS=["kluis.accounts.hashers.TestArgon2idHasher"]).enable()


@pytest.fixture(scope="session", autouse=True)
def _master_key_file() -> None:
    from kluis.vault.master import generate_key_file, reset_master_ring

    path = Path(settings.KLUIS_MASTER_KEY_FILE)
    if not path.exists():
        generate_key_file(path)
    reset_master_ring()


@pytest.fixture(scope="session", autouse=True)
def _translations() -> None:
    """Compile stale catalogues when `make messages` has not run (a bare pytest run)."""
    for po in Path(settings.BASE_DIR, "kluis").glob("**/locale/*/LC_MESSAGES/django.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        partial = mo.with_name(f"django.{os.getpid()}.mo.tmp")
        subprocess.run(["msgfmt", "-o", str(partial), str(po)], check=True)
        os.replace(partial, mo)  # whole, even with two pytest workers at once


@pytest.fixture(scope="session", autouse=True)
def _no_registries() -> None:
    """No test reaches a registry it did not start (the demo's port 8700 may be in use).

    Tests of the domains app point the settings at their own local EPP server.
    """
    from django.test import override_settings

    override_settings(KLUIS_EPP_ENDPOINTS=dict.fromkeys(settings.KLUIS_EPP_ENDPOINTS, "")).enable()


@pytest.fixture(scope="session", autouse=True)
def _static_files(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Collect the static files as production does: hashed names and their manifest.

    Pages link the stylesheet by its hashed name, so a test renders what a browser gets;
    each pytest process collects into a directory of its own.
    """
    from django.core.management import call_command
    from django.test import override_settings

    # enable() also resets the storage (Django's setting_changed handler), for the session
    override_settings(STATIC_ROOT=tmp_path_factory.mktemp("static")).enable()
    call_command("collectstatic", interactive=False, verbosity=0)
    # The live server's own static handler knows no hashed names and answers 404 for
    # them; hand /static/ to the application, whose WhiteNoise serves it as in production.
    handlers.StaticFilesHandler = _WhiteNoiseServesStatic  # type: ignore[misc]


class _WhiteNoiseServesStatic(handlers.StaticFilesHandler):
    def _should_handle(self, path: str) -> bool:
        return False


ShippedPolicies = tuple[Path, list[tuple[str, int, int]], "tuple[Policy, dict[str, Policy]]"]


def _policy_files_state(directory: Path) -> list[tuple[str, int, int]]:
    return [
        (str(path), path.stat().st_mtime_ns, path.stat().st_size)
        for path in sorted(directory.glob("**/*.yaml"))
    ]


@pytest.fixture(scope="session")
def _shipped_policies() -> ShippedPolicies:
    """The shipped policy files, parsed once per process (~0.2 s of YAML each time)."""
    from kluis.policy import loader

    directory = Path(settings.KLUIS_POLICY_DIR)
    loader.clear_cache()
    return directory, _policy_files_state(directory), loader._load_all(directory)


@pytest.fixture(autouse=True)
def _fresh_policy_cache(
    _shipped_policies: ShippedPolicies,
) -> None:
    """Each test starts from a cleared policy cache, primed with the shipped policy as
    long as its files are unchanged; a test that points KLUIS_POLICY_DIR elsewhere (or
    calls clear_cache) reads its own files."""
    from kluis.policy import loader

    loader.clear_cache()
    directory, state, policies = _shipped_policies
    if directory == settings.KLUIS_POLICY_DIR and _policy_files_state(directory) == state:
        loader._loaded = (directory, policies)


@pytest.fixture(autouse=True)
def _witness_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A witness directory per test (and for its subprocesses): checkpoints of one
    test's chain must not be checked against another test's."""
    path = tmp_path / "audit-witness"
    monkeypatch.setattr(settings, "KLUIS_AUDIT_WITNESS_DIR", path)
    monkeypatch.setenv("KLUIS_AUDIT_WITNESS_DIR", str(path))


@pytest.fixture
def personas(db: None) -> Personas:
    people = make_personas()
    mail.outbox.clear()
    return people


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; Django's ORM in the test thread is safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield browser
            browser.close()
            # ORM calls made while Playwright's loop runs get connections of their own
            # (its greenlet has its own context); close them, or the test database
            # cannot be dropped on PostgreSQL.
            connections.close_all()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
