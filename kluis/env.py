"""Typed readers for settings that come from the environment.

Every reader fails loudly: a bad value stops start-up with the variable's name and
what was wrong, instead of silently falling back to a default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no."
    )


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} is above the maximum of {maximum}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_days(name: str, default: list[int]) -> list[int]:
    """A schedule of day counts, "7,21": positive whole numbers, each above the last."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    days: list[int] = []
    for item in raw.split(","):
        try:
            day = int(item.strip())
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}={raw!r}: {item.strip()!r} is not a whole number of days."
            ) from None
        if day < 1:
            raise ImproperlyConfigured(f"{name}={raw!r}: {day} is not a positive number of days.")
        if days and day <= days[-1]:
            raise ImproperlyConfigured(f"{name}={raw!r}: each number must be above the one before.")
        days.append(day)
    return days


def env_database(name: str, default_sqlite: Path) -> dict[str, Any]:
    """A DATABASES entry from a URL, or an SQLite file tuned for durability."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return sqlite_database(default_sqlite)
    if raw.startswith("sqlite:"):
        return sqlite_database(Path(str(dj_database_url.parse(raw)["NAME"])))
    if not raw.startswith(("postgres://", "postgresql://")):
        raise ImproperlyConfigured(f"{name} must be an sqlite:/// or postgres:// URL, not {raw!r}.")
    try:
        config: dict[str, Any] = dict(
            dj_database_url.parse(raw, conn_max_age=60, conn_health_checks=True)
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database: {raw!r}.")
    return config


def sqlite_database(path: Path) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of
            # failing half-way; WAL lets readers go on meanwhile; FULL makes a commit
            # survive a power cut.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=FULL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA secure_delete=ON;"
            ),
        },
        "TEST": {"NAME": str(path.with_name(path.stem + "-test" + path.suffix))},
    }


# --- the provider's own identifiers (printed on every invoice) ---------------------------
# In production (KLUIS_DEBUG=0) each is required and checked at start-up; in development
# an empty value is allowed, and a value that is given is still checked.


def env_kvk(name: str, *, required: bool) -> str:
    """A KvK number: 8 digits, no check digit (python-stdnum has no KvK module)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        if required:
            raise ImproperlyConfigured(f"{name} is required when KLUIS_DEBUG is off.")
        return ""
    value = raw.replace(" ", "")
    if not (len(value) == 8 and value.isascii() and value.isdigit()):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a KvK number (8 digits).")
    return value


def env_vat(name: str, *, required: bool) -> str:
    """A Dutch VAT identification number (btw-id), checked with python-stdnum."""
    from stdnum.exceptions import ValidationError
    from stdnum.nl import btw

    raw = os.environ.get(name, "").strip()
    if not raw:
        if required:
            raise ImproperlyConfigured(f"{name} is required when KLUIS_DEBUG is off.")
        return ""
    try:
        return "NL" + str(btw.validate(raw))
    except ValidationError as exc:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a valid Dutch VAT number: {exc}"
        ) from None


def env_ibans(name: str, default: str, *, required: bool) -> list[str]:
    """One or more IBANs (comma-separated), each checked with schwifty; compact form."""
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    raw = os.environ.get(name, "").strip()
    if not raw:
        if required:
            raise ImproperlyConfigured(f"{name} is required when KLUIS_DEBUG is off.")
        raw = default
    ibans = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            ibans.append(IBAN(item).compact)
        except SchwiftyException as exc:
            raise ImproperlyConfigured(f"{name}: {item!r} is not a valid IBAN: {exc}") from None
    if not ibans:
        raise ImproperlyConfigured(f"{name} names no IBAN.")
    return ibans
