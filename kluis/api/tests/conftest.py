"""The local EPP registry of the domains app's tests, for the domain operations."""

from kluis.domains.tests.conftest import registries_local, registry_server

__all__ = ["registries_local", "registry_server"]
