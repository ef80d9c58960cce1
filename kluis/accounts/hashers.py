from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    """Argon2id at the OWASP floor: 19 MiB of memory, two passes, one lane."""

    algorithm = "argon2"
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1


class TestArgon2idHasher(Argon2idHasher):
    """Argon2id at the smallest cost, for the test suite only (conftest.py selects it).

    Tests log in and set passwords thousands of times; what they check does not depend
    on the cost. kluis/accounts/tests/test_passwords.py checks that the settings use
    Argon2idHasher at the OWASP floor. Hashes share the "argon2" prefix, so either
    hasher verifies the other's.
    """

    time_cost = 1
    memory_cost = 8  # KiB, argon2's minimum for one lane
