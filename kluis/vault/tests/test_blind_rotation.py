"""Blind indexes in old backups (issue 10 item 7): a rotation leaves them unmatchable.

An "old backup" here is what a copy of the main database holds: the index digests as
they were. After a rotation, no key left in the keystore turns a known address into
any of those digests, while kluis itself still finds everyone by the new ones.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Model
from django.utils import timezone

from kluis.accounts.models import Customer, User
from kluis.accounts.selectors import customers_matching
from kluis.audit.models import AuditEntry
from kluis.vault import keys
from kluis.vault.blind import blind_index_rotate
from kluis.vault.errors import VaultError
from kluis.vault.fields import NORMALIZERS
from kluis.vault.master import master_ring
from kluis.vault.models import BlindIndexGeneration, Secret
from kluis.vault.tests.helpers import make_customer

pytestmark = pytest.mark.django_db(databases="__all__")


def _digests_any_stored_key_makes(kind: str, value: str) -> set[str]:
    """What an attacker holding today's keystore (and master key) can compute."""
    made = set()
    for secret in Secret.objects.filter(name__startswith=keys.BLIND_INDEX):
        key = master_ring().unwrap(
            secret.master_kid, bytes(secret.wrapped), context=f"kluis-secret|{secret.name}".encode()
        )
        made.add(keys.blind_index_digest(key, kind, NORMALIZERS[kind](value)))
    return made


def _backup(model: type[Model], pk: object, *names: str) -> dict[str, str]:
    return dict(
        zip(names, model._default_manager.filter(pk=pk).values_list(*names).get(), strict=True)
    )


def test_after_a_rotation_an_old_backup_no_longer_matches_but_kluis_still_finds_everyone():
    piet = make_customer(name="Piet Jansen", email="piet@example.nl", vat_number="NL000099998B57")
    old = _backup(Customer, piet.pk, "email_index", "name_index", "vat_index")
    # Before: today's keystore turns the address into the backup's digest.
    assert old["email_index"] in _digests_any_stored_key_makes("email", "piet@example.nl")

    done = blind_index_rotate()

    assert done.generation == 1 and done.keys_deleted == 1 and done.reindexed >= 3
    assert not Secret.objects.filter(name="blind_index").exists()
    new = _backup(Customer, piet.pk, "email_index", "name_index", "vat_index")
    for name in old:
        assert new[name] != old[name]
    assert old["email_index"] not in _digests_any_stored_key_makes("email", "piet@example.nl")
    assert old["name_index"] not in _digests_any_stored_key_makes("text", "Piet Jansen")
    # kluis finds Piet as before, by address, name and VAT number.
    with keys.key_scope():
        for text in ("piet@example.nl", "PIET JANSEN", "NL000099998B57"):
            assert [c.pk for c in customers_matching(text)] == [piet.pk], text
    entry = AuditEntry.objects.filter(action="vault.blind_index_rotated").get()
    assert '"generation":1' in entry.payload.replace(" ", "")


def test_an_index_whose_data_key_is_shredded_is_cleared_and_a_tombstone_stays_empty():
    gone = make_customer(name="Weg Geweest", email="weg@example.nl")
    keys.shred([keys.KeyScope(gone.pk, "customer_record")])
    Customer.objects.filter(pk=gone.pk).update(name_index=None)  # an erasure's tombstone
    done = blind_index_rotate()
    row = _backup(Customer, gone.pk, "email_index", "name_index")
    assert row == {"email_index": None, "name_index": None}
    assert done.cleared >= 1


def test_rotations_follow_each_other_and_logins_keep_working():
    user = User.objects.create_customer_user(
        customer=make_customer(email="inlog@example.nl"), email="inlog@example.nl", password=None
    )
    for generation in (1, 2, 3):
        assert blind_index_rotate().generation == generation
        assert User.objects.get_by_email("Inlog@Example.nl") == user
    assert BlindIndexGeneration.objects.get().number == 3
    assert list(
        Secret.objects.filter(name__startswith=keys.BLIND_INDEX).values_list("name", flat=True)
    ) == ["blind_index.3"]
    # A row written after the switch is indexed under the key in force.
    later = make_customer(email="later@example.nl")
    with keys.key_scope():
        assert [c.pk for c in customers_matching("later@example.nl")] == [later.pk]


def test_a_missing_key_of_the_generation_in_force_fails_loudly():
    blind_index_rotate()
    Secret.objects.filter(name="blind_index.1").delete()
    with pytest.raises(VaultError, match="missing"):
        Customer._meta.get_field("email_index").lookup_value("x@example.nl")


def test_the_rights_job_rotates_after_an_erasure_and_otherwise_every_30_days(personas):
    from kluis.rights import jobs, services

    assert not jobs.blind_index_rotation_due()
    assert jobs.blind_index_rotation() == "not due"
    services.erasure_request_from_portal(user=personas.bob)
    assert jobs.blind_index_rotation_due()
    assert jobs.blind_index_rotation().startswith("generation 1:")
    assert not jobs.blind_index_rotation_due()
    later = timezone.now() + dt.timedelta(days=31)
    assert jobs.blind_index_rotation_due(later)
