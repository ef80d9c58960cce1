"""A backup carries the last day the policy lets it be kept, and restore refuses one
kept longer unless the operator says so (security.backups in the policy)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from kluis.policy.loader import current_policy
from kluis.vault.backup import backup, past_retention

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_the_manifest_carries_the_last_day_of_each_part(tmp_path: Path) -> None:
    kept = current_policy().security.backups
    assert kept is not None
    manifest = backup(tmp_path / "backup")
    keystore_at = dt.datetime.fromisoformat(manifest["keystore_taken_at"])
    taken_at = dt.datetime.fromisoformat(manifest["taken_at"])
    assert dt.datetime.fromisoformat(manifest["keystore_keep_until"]) == keystore_at + dt.timedelta(
        days=kept.keystore_days
    )
    assert dt.datetime.fromisoformat(manifest["database_keep_until"]) == taken_at + dt.timedelta(
        days=kept.database_days
    )
    assert past_retention(manifest, timezone.now()) == []
    later = timezone.now() + dt.timedelta(days=kept.keystore_days + 1)
    assert any("keystore" in part for part in past_retention(manifest, later))


def test_restore_refuses_a_backup_kept_past_the_policy(tmp_path: Path) -> None:
    call_command("backup", str(tmp_path / "backup"))
    path = tmp_path / "backup" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["keystore_keep_until"] = (timezone.now() - dt.timedelta(days=1)).isoformat()
    path.write_text(json.dumps(manifest))
    with pytest.raises(CommandError, match="older than the privacy policy lets us keep it"):
        call_command("restore", str(tmp_path / "backup"))
    # Said out loud, it goes on to the next check: these databases are not empty.
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(tmp_path / "backup"), past_retention=True)
