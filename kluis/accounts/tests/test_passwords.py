"""R34: passwords are Argon2id, refused when common, and never readable or settable by staff."""

from __future__ import annotations

import argon2
import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from kluis import settings as production
from kluis.accounts.hashers import Argon2idHasher
from kluis.accounts.models import User
from kluis.testing import PASSWORD

pytestmark = pytest.mark.django_db(databases="__all__")


def test_passwords_are_hashed_with_argon2id_at_the_owasp_floor():
    # The settings as production reads them; the tests hash at a lower cost (conftest.py).
    assert production.PASSWORD_HASHERS == ["kluis.accounts.hashers.Argon2idHasher"]
    hasher = Argon2idHasher()
    encoded = hasher.encode("een lang en eigen wachtwoord", hasher.salt())
    assert encoded.startswith("argon2$argon2id$")
    params = argon2.extract_parameters(encoded.removeprefix("argon2"))
    assert params.type is argon2.Type.ID
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert params.parallelism == 1


def test_a_stored_password_is_never_the_password_itself():
    user = User(email="x@example.nl", kind=User.Kind.STAFF, roles=[])
    user.set_password(PASSWORD)
    assert PASSWORD not in user.password
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize("password", ["password123", "qwertyuiop", "iloveyou12", "1234567890"])
def test_common_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password, User(kind=User.Kind.CUSTOMER))


def test_staff_need_at_least_fifteen_characters_and_customers_ten():
    staff = User(kind=User.Kind.STAFF, roles=[])
    customer = User(kind=User.Kind.CUSTOMER)
    with pytest.raises(ValidationError) as refused:
        validate_password("vijf-lange-zin", staff)  # 14 characters
    assert "staff_password_too_short" in [e.code for e in refused.value.error_list]
    validate_password("vijf-lange-zinx", staff)
    validate_password("korte-zin7", customer)
    with pytest.raises(ValidationError):
        validate_password("kort-zin7", customer)


def test_no_url_takes_a_password_for_someone_else():
    """Staff can send a reset email but no view sets a password for another user."""
    from kluis.testing import url_patterns

    for pattern in url_patterns():
        if pattern.route.startswith("backoffice/"):
            assert "password" not in pattern.name.replace("password-reset", "")
