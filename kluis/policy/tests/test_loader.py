"""The policy file: the real one loads, and every kind of mistake stops start-up by name."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

from kluis.policy.loader import (
    ARCHIVE_DIR,
    CURRENT_FILE,
    PolicyFileError,
    _load_all,
    clear_cache,
    load_policy_file,
)

SHIPPED = Path(settings.BASE_DIR) / "kluis" / "policy" / "data" / CURRENT_FILE


def real() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def write(path: Path, raw: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def refusal(tmp_path: Path, raw: dict[str, Any]) -> str:
    with pytest.raises(PolicyFileError) as caught:
        load_policy_file(write(tmp_path / CURRENT_FILE, raw))
    return str(caught.value)


def first(raw: dict[str, Any], group: str) -> str:
    return next(iter(raw[group]))


def test_the_shipped_policy_loads():
    policy = load_policy_file(SHIPPED)
    assert policy.categories and policy.purposes and policy.retention
    assert policy.controller.supervisory_authority.url


def test_a_purpose_naming_an_unknown_category_is_refused(tmp_path):
    raw = real()
    key = first(raw, "purposes")
    raw["purposes"][key]["categories"].append("user.shoe_size")
    message = refusal(tmp_path, raw)
    assert f"purposes.{key}.categories" in message
    assert "unknown category 'user.shoe_size'" in message


def test_a_missing_required_key_is_refused(tmp_path):
    raw = real()
    del raw["controller"]["email"]
    message = refusal(tmp_path, raw)
    assert "controller.email" in message
    assert "Field required" in message


def test_a_value_of_the_wrong_type_is_refused(tmp_path):
    raw = real()
    key = first(raw, "retention")
    raw["retention"][key]["duration"] = {"years": "seven"}
    message = refusal(tmp_path, raw)
    assert f"retention.{key}.duration.years" in message
    assert "valid integer" in message


def test_an_unknown_legal_basis_is_refused(tmp_path):
    raw = real()
    key = first(raw, "purposes")
    raw["purposes"][key]["legal_basis"] = "gut_feeling"
    message = refusal(tmp_path, raw)
    assert f"purposes.{key}.legal_basis" in message
    assert "'legitimate_interest'" in message  # the error lists what is allowed


def test_a_file_that_is_not_yaml_is_refused(tmp_path):
    path = tmp_path / CURRENT_FILE
    path.write_text("version: [2.0\ndate: 2026-11-25\n", encoding="utf-8")
    with pytest.raises(PolicyFileError, match="not valid YAML"):
        load_policy_file(path)


def test_an_archived_version_loads_beside_the_current_one(tmp_path):
    raw = real()
    old = copy.deepcopy(raw) | {"version": "0.9", "date": "2018-05-07"}
    write(tmp_path / CURRENT_FILE, raw)
    write(tmp_path / ARCHIVE_DIR / "0.9.yaml", old)
    current, versions = _load_all(tmp_path)
    assert set(versions) == {current.version, "0.9"}


def test_an_archived_version_dated_after_the_current_one_is_refused(tmp_path):
    raw = real()
    write(tmp_path / CURRENT_FILE, raw)
    write(tmp_path / ARCHIVE_DIR / "0.9.yaml", raw | {"version": "0.9", "date": "2099-01-01"})
    with pytest.raises(PolicyFileError, match="not before the current version"):
        _load_all(tmp_path)


def test_two_archive_files_with_the_same_version_are_refused(tmp_path):
    raw = real()
    old = raw | {"version": "0.9", "date": "2018-05-07"}
    write(tmp_path / CURRENT_FILE, raw)
    write(tmp_path / ARCHIVE_DIR / "a.yaml", old)
    write(tmp_path / ARCHIVE_DIR / "b.yaml", old)
    with pytest.raises(PolicyFileError, match=r"version 0\.9 is published twice"):
        _load_all(tmp_path)


def test_django_does_not_start_with_a_broken_policy(tmp_path):
    raw = real()
    key = first(raw, "purposes")
    raw["purposes"][key]["categories"].append("user.shoe_size")
    write(tmp_path / "policy" / CURRENT_FILE, raw)
    env = os.environ | {
        "KLUIS_POLICY_DIR": str(tmp_path / "policy"),
        "KLUIS_VAR_DIR": str(tmp_path / "var"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert f"purposes.{key}.categories" in result.stderr
    assert "PolicyFileError" in result.stderr
    clear_cache()
