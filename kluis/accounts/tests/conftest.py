"""The accounts tests use the shared fixtures of the root conftest.py, and the local EPP
registry of the domains app's tests (the route harness registers a domain there)."""

from kluis.domains.tests.conftest import registries_local, registry_server

__all__ = ["registries_local", "registry_server"]
