"""Fixtures of the billing tests: the recorded VIES server (personas, with the VAT
rate table loaded again, come from the root conftest)."""

from __future__ import annotations

from kluis.shop.tests.conftest import vies  # noqa: F401 (the recorded VIES server)
