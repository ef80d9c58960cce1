"""A local EPP registry per test, on a free port, and clients for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from pytest_django.fixtures import SettingsWrapper

from kluis.domains import availability, epp_local, registries
from kluis.domains.epp.client import Endpoint, EppClient, connect_and_login
from kluis.domains.epp.xml import SIDN

PASSWORD = "local-test-pw"


@pytest.fixture
def registry_server(tmp_path: Path) -> Iterator[epp_local.Running]:
    running = epp_local.serve(cert_dir=tmp_path / "epp", password=PASSWORD, max_sessions=3)
    yield running
    running.stop()


def endpoint_for(
    running: epp_local.Running,
    client_id: str = "kluis-sidn",
    *,
    sidn: bool = True,
    timeout: float = 5.0,
    password: str = PASSWORD,
) -> Endpoint:
    return Endpoint(
        host="127.0.0.1",
        port=running.server.port,
        client_id=client_id,
        password=password,
        ssl_context=running.client_context(),
        timeout=timeout,
        extensions=(SIDN,) if sidn else (),
    )


def taken_elsewhere(running: epp_local.Running, name: str) -> None:
    """`name` registered at the local registry by another registrar."""
    from kluis.domains.epp import commands as cmd
    from kluis.domains.tests.test_client import contact

    other = connect_and_login(endpoint_for(running, "other-registrar", sidn=False))
    other.contact_create(contact("OT-1"))
    other.request(
        cmd.domain_create(
            name=name, years=1, registrant="OT-1", auth_pw="Token12345", admin="OT-1", tech="OT-1"
        )
    )
    other.logout()


@pytest.fixture
def epp_client(registry_server: epp_local.Running) -> Iterator[EppClient]:
    c = connect_and_login(endpoint_for(registry_server))
    yield c
    c.logout()


@pytest.fixture
def registries_local(
    registry_server: epp_local.Running, settings: SettingsWrapper
) -> Iterator[epp_local.Running]:
    """Every registry is the test's local server, through the real settings path."""
    port = registry_server.server.port
    settings.KLUIS_EPP_ENDPOINTS = {
        key: f"epp://kluis-{key}:{PASSWORD}@127.0.0.1:{port}" for key in registries.REGISTRIES
    }
    settings.KLUIS_EPP_CAFILE = str(registry_server.cert)
    registries.pool.cache_clear()
    availability.web_pool.cache_clear()
    cache.clear()
    yield registry_server
    for key in registries.REGISTRIES:
        if settings.KLUIS_EPP_ENDPOINTS.get(key):
            registries.pool(key).close()
            availability.web_pool(key).close()
    registries.pool.cache_clear()
    availability.web_pool.cache_clear()
    cache.clear()
