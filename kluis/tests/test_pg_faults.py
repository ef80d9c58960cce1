"""Real PostgreSQL faults: the server ends the connection (pg_terminate_backend) in the
middle of the work, as a restart or an administrator would.

Unlike kluis/shop/tests/test_database_gone.py, which raises the error in Python, here
PostgreSQL itself drops the connection of this test's own session (no other session is
touched) at the Nth statement, and psycopg finds out as it would in production.
Skipped on SQLite. `make drill-pg` runs these with the backup drill.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.db import OperationalError, connections, transaction
from django.test import Client

from kluis.audit.chain import audit_append, audit_verify
from kluis.audit.models import AuditEntry, AuditHead

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def _postgresql() -> None:
    if connections["default"].vendor != "postgresql":
        pytest.skip("a PostgreSQL fault drill; this run is on SQLite")


def _url(alias: str) -> str:
    config = connections[alias].settings_dict
    user, password = str(config.get("USER") or ""), str(config.get("PASSWORD") or "")
    auth = f"{quote(user)}:{quote(password)}@" if password else (f"{quote(user)}@" if user else "")
    host, port = config.get("HOST") or "127.0.0.1", config.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{config['NAME']}"


class KillAt:
    """An execute wrapper: before the `at`-th statement, the server ends this session."""

    def __init__(self, alias: str, at: int = 0) -> None:
        self.alias = alias
        self.at = at
        self.seen = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.seen += 1
        if self.seen == self.at:
            pid = connections[self.alias].connection.info.backend_pid
            with psycopg.connect(_url(self.alias), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        return execute(sql, params, many, context)


def _next_request() -> None:
    # What Django does at the start of every request: drop a connection that failed.
    for alias in connections:
        connections[alias].close_if_unusable_or_obsolete()


@pytest.mark.parametrize("at", [1, 2, 4])
def test_a_request_whose_connection_is_killed_gets_a_503_and_the_next_one_works(personas, at):
    client = Client(raise_request_exception=False)
    client.force_login(personas.alice)
    _next_request()
    assert client.get("/portaal/").status_code == 200
    kill = KillAt("default", at)
    with connections["default"].execute_wrapper(kill):
        response = client.get("/portaal/")
    assert kill.seen >= at
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Traceback" not in response.content.decode()
    _next_request()
    assert client.get("/portaal/").status_code == 200


@pytest.mark.parametrize("at", [1, 2])
def test_an_audit_append_cut_off_leaves_the_chain_whole(at):
    audit_append(action="drill.before", actor="system:drill", data={})
    kill = KillAt("default", at)
    with (
        pytest.raises(OperationalError),
        connections["default"].execute_wrapper(kill),
        transaction.atomic(),
    ):
        audit_append(action="drill.cut", actor="system:drill", data={})
    _next_request()
    assert not AuditEntry.objects.filter(action="drill.cut").exists()
    head = AuditHead.objects.get(pk=1)
    assert head.seq == AuditEntry.objects.count()
    audit_append(action="drill.after", actor="system:drill", data={})
    verdict = audit_verify()
    assert verdict.ok, verdict


def test_a_keystore_connection_killed_mid_read_fails_cleanly_and_recovers(personas):
    from kluis.policy.enforce import Actor
    from kluis.vault.keys import forget_unwrapped
    from kluis.vault.reveal import reveal_many

    rows = [personas.customer_a, personas.customer_b]
    actor = Actor.system("drill")
    forget_unwrapped()
    kill = KillAt("keystore", 1)
    with pytest.raises(OperationalError), connections["keystore"].execute_wrapper(kill):
        reveal_many(rows, ["name"], purpose="invoicing", actor=actor)
    _next_request()
    values = reveal_many(rows, ["name"], purpose="invoicing", actor=actor)
    assert all(v["name"] for v in values)
