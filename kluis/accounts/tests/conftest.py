"""The accounts tests use the shared fixtures of the root conftest.py."""
