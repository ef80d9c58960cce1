"""Fixtures of the billing tests: personas, the catalogue and the VAT rate table."""

from __future__ import annotations

import pytest
from django.core import mail

from kluis.billing.rates import vat_rates_load
from kluis.shop.tests.conftest import vies  # noqa: F401 (the recorded VIES server)
from kluis.testing import Personas, make_personas


@pytest.fixture
def personas(db: None) -> Personas:
    # Transactional tests flush the rows the migration seeded: load them again.
    vat_rates_load()
    people = make_personas()
    mail.outbox.clear()
    return people
