from __future__ import annotations

import pytest
from django.core import mail

from kluis.testing import Personas, make_personas


@pytest.fixture
def personas(db: None) -> Personas:
    people = make_personas()
    mail.outbox.clear()
    return people
