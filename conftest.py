"""Shared pytest set-up: the master key, translations, personas and the browser."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from django.contrib.staticfiles import handlers
from django.core import mail
from django.db import connections

from kluis.billing.rates import vat_rates_load
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


# Modules whose tests take longest (a walk in Chromium of every page, generated API
# requests, processes killed and restarted, migrations run back and forth), longest
# first. They are run before the rest of their group (see below): pytest-xdist then
# ends the run on short tests that balance across the workers, instead of one worker
# finishing a long test alone.
LONG_FIRST = (
    "kluis/web/tests/test_walk_browser.py",
    "kluis/api/tests/test_schemathesis.py",
    "kluis/accounts/tests/test_no_impersonation.py",
    "kluis/mail/tests/test_crash.py",
    "kluis/vault/tests/test_backup_restore.py",
    "kluis/shop/tests/test_domain_migration.py",
    "kluis/billing/tests/test_statement_killed.py",
    "kluis/web/tests/test_consent.py",
    "kluis/accounts/tests/test_access_control.py",
    "kluis/tests/test_serving.py",
    "kluis/domains/tests/test_killed.py",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules of LONG_FIRST first, then the browser tests, then the rest; each in
    its collected order (a stable sort, the same on every xdist worker).

    This runs before pytest-django's own sort, which keeps its groups: tests in a
    transaction first, then transactional tests (whose flush removes the rows the
    migrations seeded), then tests without a database; the order above holds within
    each group.
    """

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        if path in LONG_FIRST:
            return LONG_FIRST.index(path)
        return len(LONG_FIRST) if item.get_closest_marker("browser") else len(LONG_FIRST) + 1

    items.sort(key=rank)


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
    # A transactional test flushes the rows the migrations seeded (the VAT rate table);
    # under --dist worksteal a worker may run one before a test that needs them.
    vat_rates_load()
    people = make_personas()
    mail.outbox.clear()
    return people


class _SharedBrowser:
    """One Chromium for a run of consecutive browser tests.

    A launch costs about a second of CPU; tests that follow each other share the
    browser, each in contexts of its own (closed when it ends, so no cookie, storage or
    cache passes from one test to the next). Playwright's sync API keeps an event loop
    running while it is started, which would make every later test an "async context"
    for Django: the browser is stopped as soon as the next test is not a browser test.
    """

    def __init__(self) -> None:
        self.playwright: Any = None
        self.browser: Any = None
        # Whether the running test is the last of its run of browser tests.
        self.last = True

    def get(self) -> Any:
        if self.browser is not None and not self.browser.is_connected():
            self.stop()  # a crashed browser is not handed to the next test
        if self.browser is None:
            from playwright.sync_api import sync_playwright

            # Playwright's sync API runs an event loop; Django's ORM in the test thread
            # is safe.
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
            self.playwright = sync_playwright().start()
            self.browser = self.playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
        return self.browser

    def close_contexts(self) -> None:
        if self.browser is not None:
            for context in list(self.browser.contexts):
                context.close()

    def stop(self) -> None:
        if self.playwright is None:
            return
        try:
            # While Playwright's loop runs, Django keeps the connections of this thread
            # apart (asgiref's Local in an event loop): close those now and the others
            # once it has stopped, or the test database cannot be dropped on PostgreSQL.
            connections.close_all()
            if self.browser is not None:
                self.browser.close()
            self.playwright.stop()
            connections.close_all()
        finally:
            self.browser = self.playwright = None
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


_shared_browser = _SharedBrowser()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _shared_browser.last = nextitem is None or "browser" not in getattr(
        nextitem, "fixturenames", ()
    )
    try:
        return (yield)
    finally:
        if _shared_browser.last:
            _shared_browser.stop()  # already stopped by the fixture, unless it failed


@pytest.fixture
def browser() -> Iterator[object]:
    """Chromium through Playwright; the test's contexts are closed when it ends, and
    the browser too when the next test is no browser test (before the test's database
    and, after the last test, the test databases are taken down)."""
    browser = _shared_browser.get()
    try:
        yield browser
    finally:
        try:
            _shared_browser.close_contexts()
        finally:
            if _shared_browser.last:
                _shared_browser.stop()
