"""Loading the policy file(s).

`privacy-policy.yaml` in the policy directory is the policy in force; every earlier
published version lives in `archive/` beside it and stays retrievable by version.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pydantic import ValidationError

from kluis.policy.schema import Policy

CURRENT_FILE = "privacy-policy.yaml"
# libyaml's safe loader where PyYAML was built with it: the same documents, a tenth of
# the time of the pure-Python one (the policy is read at every start of kluis).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ARCHIVE_DIR = "archive"


class PolicyFileError(ImproperlyConfigured):
    """The policy file is missing, unreadable or does not match the schema."""


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s) in the privacy policy:"]
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  - {where}: {message}")
    return "\n".join(lines)


def load_policy_file(path: Path) -> Policy:
    try:
        raw: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506
    except FileNotFoundError:
        raise PolicyFileError(f"{path}: the privacy policy file does not exist.") from None
    except yaml.YAMLError as exc:
        raise PolicyFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise PolicyFileError(f"{path}: the privacy policy must be a mapping at the top level.")
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyFileError(_format_errors(path, exc)) from None


def placeholders(policy: Policy) -> list[str]:
    """Where the policy still holds a placeholder instead of a fact production needs."""
    return [
        f"recipients.{key}.subprocessor.legal_name"
        for key, _recipient, sub in policy.subprocessors()
        if sub.placeholder
    ] + [f"recipients.{key}.name" for key, r in policy.recipients.items() if r.placeholder]


def refuse_placeholders(policy: Policy) -> None:
    """Stop start-up in production while the policy names a placeholder.

    The processor agreement names every sub-processor (art. 28(2) and (4) GDPR), and
    a person's copy names every recipient (art. 15(1)(c), CJEU C-154/21); a made-up
    name there would be a false statement to every customer, so kluis does not run in
    production until the real ones are filled in.
    """
    missing = placeholders(policy)
    if missing:
        raise PolicyFileError(
            f"{settings.KLUIS_POLICY_DIR}/{CURRENT_FILE}: {', '.join(missing)} "
            f"{'is a placeholder' if len(missing) == 1 else 'are placeholders'}. Fill in "
            "the legal name from the contract with that party (and its KvK number) and "
            "remove `placeholder: true`; kluis does not start with KLUIS_DEBUG=0 before that."
        )


@functools.cache
def _load_all(directory: Path) -> tuple[Policy, dict[str, Policy]]:
    current = load_policy_file(directory / CURRENT_FILE)
    versions = {current.version: current}
    archive = directory / ARCHIVE_DIR
    for path in sorted(archive.glob("*.yaml")) if archive.is_dir() else []:
        old = load_policy_file(path)
        if old.version in versions:
            raise PolicyFileError(f"{path}: version {old.version} is published twice.")
        if old.date >= current.date:
            raise PolicyFileError(
                f"{path}: archived version {old.version} is dated {old.date}, not before the "
                f"current version's {current.date}."
            )
        versions[old.version] = old
    return current, versions


# The policy is read on every reveal: keep the loaded one beside the setting it came
# from, so the hot path is one comparison instead of a path lookup.
_loaded: tuple[object, tuple[Policy, dict[str, Policy]]] | None = None


def _policies() -> tuple[Policy, dict[str, Policy]]:
    global _loaded
    directory = settings.KLUIS_POLICY_DIR
    if _loaded is None or _loaded[0] != directory:
        _loaded = (directory, _load_all(Path(directory)))
    return _loaded[1]


def current_policy() -> Policy:
    return _policies()[0]


def published_versions() -> list[Policy]:
    """Every published version, newest first."""
    return sorted(_policies()[1].values(), key=lambda p: p.date, reverse=True)


def policy_version(version: str) -> Policy | None:
    return _policies()[1].get(version)


def clear_cache() -> None:
    global _loaded
    _loaded = None
    _load_all.cache_clear()
