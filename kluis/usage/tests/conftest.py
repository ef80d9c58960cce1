from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kluis.sites.models import Site
from kluis.sites.testing import make_site
from kluis.testing import Personas


@pytest.fixture
def shop(personas: Personas) -> Site:
    return make_site(personas.customer_a, hosts="shop.example.nl www.shop.example.nl")


@pytest.fixture
def today() -> dt.date:
    return timezone.localdate()
