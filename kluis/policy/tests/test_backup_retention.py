"""How long backups are kept is declared in the policy, and the statement and the
register say it, with the promise that a restored keystore backup keeps shredded keys
gone (kluis/vault/backup.py enforces both)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kluis.policy.loader import current_policy
from kluis.policy.register import build_register
from kluis.policy.schema import BackupRetention
from kluis.policy.tests.test_statement_wording import _article, _text

pytestmark = pytest.mark.django_db


def test_the_shipped_policy_declares_how_long_backups_are_kept():
    kept = current_policy().security.backups
    assert kept is not None
    assert kept.keystore_days >= 1 and kept.database_days >= 1


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_a_retention_out_of_range_is_refused(days):
    with pytest.raises(ValidationError):
        BackupRetention(database_days=30, keystore_days=days)


@pytest.mark.parametrize(
    ("language", "database", "keystore", "replay"),
    [
        (
            "nl",
            "Back-ups van de gegevens bewaren we ten hoogste {d} dagen.",
            "Back-ups van de sleutels per persoon bewaren we apart, ten hoogste {k} dagen.",
            "vernietigen we eerst opnieuw elke sleutel die sinds die back-up is vernietigd",
        ),
        (
            "en",
            "We keep backups of the data for at most {d} days.",
            "We keep backups of the per-person keys apart, for at most {k} days.",
            "we first destroy again every key destroyed since that backup",
        ),
    ],
)
def test_the_statement_says_it_from_the_policy(client, language, database, keystore, replay):
    kept = current_policy().security.backups
    assert kept is not None
    page = client.get(f"/privacy/{language}/")
    assert page.status_code == 200
    text = _text(_article(page.content.decode()))
    assert database.format(d=kept.database_days) in text
    assert keystore.format(k=kept.keystore_days) in text
    assert replay in text


def test_the_register_lists_it_among_the_measures():
    policy = current_policy()
    kept = policy.security.backups
    assert kept is not None
    changed = policy.model_copy(
        update={
            "security": policy.security.model_copy(
                update={"backups": kept.model_copy(update={"keystore_days": 14})}
            )
        }
    )
    measures = build_register(changed, "nl").measures
    assert (
        "Back-ups van de sleutels per persoon bewaren we apart, ten hoogste 14 dagen. "
        "Daarna zijn gewiste gegevens ook in de back-ups niet meer te lezen." in measures
    )
    without = policy.model_copy(
        update={"security": policy.security.model_copy(update={"backups": None})}
    )
    assert not [m for m in build_register(without, "nl").measures if "Back-ups van" in m]
