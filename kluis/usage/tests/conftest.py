from __future__ import annotations

import datetime as dt
import hashlib
import itertools

import pytest
from django.utils import timezone

from kluis.sites.models import Site
from kluis.sites.testing import make_site
from kluis.testing import Personas
from kluis.usage import store


@pytest.fixture
def shop(personas: Personas) -> Site:
    return make_site(personas.customer_a, hosts="shop.example.nl www.shop.example.nl")


@pytest.fixture
def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture(autouse=True)
def known_salts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each new day's salt from a counter, not the random source.

    A day's visitors are counted by a HyperLogLog sketch of 4,096 registers, indexed by
    the salted hash. Two of a test's few visitors share a register with a probability
    of about n²/8,192 (0.9 % for the nine of test_web), and then the estimate is one
    short: with random salts an exact count in a test fails now and then. These salts
    are fixed, and still differ per day as the real ones do.
    """
    counter = itertools.count()
    monkeypatch.setattr(
        store, "new_salt", lambda: hashlib.sha256(b"usage test salt %d" % next(counter)).digest()
    )
