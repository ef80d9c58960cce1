"""The registration job killed with SIGKILL, in a process of its own, against the local
registry: after a rerun each domain is registered once, at the registry and in kluis,
its sends are in the ledger once, and no order is left stuck.

Kill points: the moment after the registry accepted the create and before our commit
(the case the issue names), and seeded random SQL statements of a clean run (Django's
execute_wrapper, as in kluis/billing/tests/test_statement_killed.py).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest
from django.conf import settings
from django.utils import timezone

from kluis.audit.models import Disclosure
from kluis.domains import epp_local, registries
from kluis.domains.models import DomainRegistration
from kluis.domains.services import registrations_run
from kluis.domains.tests.conftest import PASSWORD
from kluis.domains.tests.test_registration import queued, with_address
from kluis.mail.tests.conftest import database_url
from kluis.testing import Personas, make_customer

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
SEED = int(os.environ.get("KLUIS_KILL_SEED", "20261204"))
KILLED = -signal.SIGKILL

DRIVER = """
import os, signal
import django
django.setup()
from django.db import connection
from kluis.domains import services

mode, limit = os.environ["KILL_MODE"], int(os.environ["KILL_AT"])
seen = 0

def counting(execute, sql, params, many, context):
    global seen
    seen += 1
    if mode == "sql" and seen == limit:
        os.kill(os.getpid(), signal.SIGKILL)
    return execute(sql, params, many, context)

if mode == "after_create":
    def die(registration):
        os.kill(os.getpid(), signal.SIGKILL)
    services._after_create = die

with connection.execute_wrapper(counting):
    print(services.registrations_run())
print(f"statements={seen}")
"""


def _run(
    running: epp_local.Running, mode: str, kill_at: int = 0, *, driver: str = DRIVER
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLUIS_", "DJANGO_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="kluis.settings",
        KLUIS_VAR_DIR=str(settings.VAR_DIR),
        KLUIS_MASTER_KEY_FILE=str(settings.KLUIS_MASTER_KEY_FILE),
        KLUIS_POLICY_DIR=str(settings.KLUIS_POLICY_DIR),
        KLUIS_AUDIT_WITNESS_DIR=str(settings.KLUIS_AUDIT_WITNESS_DIR),
        DATABASE_URL=database_url("default"),
        KLUIS_KEYSTORE_URL=database_url("keystore"),
        KLUIS_EPP_SIDN_URL=f"epp://kluis-sidn:{PASSWORD}@127.0.0.1:{running.server.port}",
        KLUIS_EPP_CAFILE=str(running.cert),
        KILL_MODE=mode,
        KILL_AT=str(kill_at),
    )
    if "KLUIS_MASTER_KEY" in os.environ:
        env["KLUIS_MASTER_KEY"] = os.environ["KLUIS_MASTER_KEY"]
    return subprocess.run(
        [sys.executable, "-c", driver],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _rerun_after_the_lease(
    running: epp_local.Running, run: Callable[..., str] = registrations_run
) -> str:
    settings.KLUIS_EPP_ENDPOINTS = {
        **settings.KLUIS_EPP_ENDPOINTS,
        "sidn": f"epp://kluis-sidn:{PASSWORD}@127.0.0.1:{running.server.port}",
    }
    settings.KLUIS_EPP_CAFILE = str(running.cert)
    registries.pool.cache_clear()
    try:
        return run(now=timezone.now() + dt.timedelta(hours=1))
    finally:
        registries.pool("sidn").close()
        registries.pool.cache_clear()


def _assert_registered_once(running: epp_local.Running, customer_id: uuid.UUID, name: str) -> None:
    registration = DomainRegistration.objects.get()
    assert registration.status == DomainRegistration.Status.REGISTERED, registration.last_error
    assert registration.expires_on is not None
    assert list(running.registry.domains) == [name]
    sent = list(Disclosure.objects.filter(subject=customer_id, recipient="sidn"))
    # One for the contact, one for the domain: never twice, never missing.
    assert sorted("domain:" in d.reference for d in sent) == [False, True], sent


def test_killed_after_the_registry_said_yes_the_rerun_finds_it_and_registers_nothing_twice(
    personas: Personas, registry_server: epp_local.Running, settings_reset: None
) -> None:
    customer = with_address(personas.customer_a)
    queued(customer, "gedood.nl")
    result = _run(registry_server, "after_create")
    assert result.returncode == KILLED, result.stderr[-2000:]
    assert "gedood.nl" in registry_server.registry.domains  # the registry has it ...
    assert DomainRegistration.objects.get().status == "pending"  # ... we did not commit
    assert not Disclosure.objects.filter(subject=customer.id).exists()

    assert _rerun_after_the_lease(registry_server) == "1 registered, 0 failed or refused, 0 waiting"
    _assert_registered_once(registry_server, customer.id, "gedood.nl")
    assert registry_server.registry.received.count("domain:create") == 2  # the 2nd: 2302


def test_killed_at_random_sql_statements_a_rerun_always_ends_registered_once(
    registry_server: epp_local.Running, settings_reset: None
) -> None:
    def fresh(name: str) -> uuid.UUID:
        # A new customer each time, so every run has the same shape (its contact is new).
        DomainRegistration.objects.all().delete()
        registry_server.registry.domains.clear()
        user = make_customer(name="Kim de Boer", email=f"{name}@example.nl", phone="+31201234567")
        assert user.customer is not None
        queued(with_address(user.customer), name)
        return user.customer.id

    counts = []
    for probe_name in ("probe-1.nl", "probe-2.nl"):
        # The first run of a process sends a few set-up statements more; draw within
        # the shorter of two clean runs.
        fresh(probe_name)
        probe = _run(registry_server, "none")
        assert probe.returncode == 0, probe.stderr[-2000:]
        counts.append(int(probe.stdout.rsplit("statements=", 1)[1]))
    clean = min(counts)
    rng = random.Random(SEED)
    for attempt in range(4):
        name = f"kill-{attempt}.nl"
        customer_id = fresh(name)
        kill_at = rng.randint(1, clean)
        result = _run(registry_server, "sql", kill_at)
        assert result.returncode == KILLED, (kill_at, result.stderr[-2000:])
        _rerun_after_the_lease(registry_server)
        _assert_registered_once(registry_server, customer_id, name)


@pytest.fixture
def settings_reset() -> object:
    before = (dict(settings.KLUIS_EPP_ENDPOINTS), settings.KLUIS_EPP_CAFILE)
    yield None
    settings.KLUIS_EPP_ENDPOINTS, settings.KLUIS_EPP_CAFILE = before
