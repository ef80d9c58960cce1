"""The retention sweep (R41): on time, dry run, resumable, idempotent."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from kluis.accounts.models import Customer
from kluis.audit.chain import audit_verify
from kluis.rights import services, sweep
from kluis.rights.models import RightsRequest
from kluis.rights.testing import png_bytes
from kluis.vault import keys
from kluis.vault.errors import KeyShredded
from kluis.vault.models import DataKey

pytestmark = pytest.mark.django_db(databases="__all__")


def _ended(customer, days_ago):
    customer.contract_ended_at = timezone.now() - dt.timedelta(days=days_ago)
    customer.save(update_fields=["contract_ended_at"])


def _live(subject, retention_class="customer_record"):
    return DataKey.objects.filter(
        subject=subject, retention_class=retention_class, wrapped__isnull=False
    ).exists()


def test_a_record_a_year_past_its_contract_is_shredded_and_tombstoned(personas):
    alice, bob = personas.customer_a, personas.customer_b
    _ended(alice, 400)
    _ended(bob, 200)  # not yet a year
    report = sweep.retention_sweep_run()
    assert report.per_class == {"customer_record": 1}
    assert not _live(alice.pk) and _live(bob.pk)
    tomb = Customer.objects.get(pk=alice.pk)
    assert tomb.email_index is None
    with pytest.raises(KeyShredded):
        tomb.name.open()
    assert audit_verify().ok


def test_a_dry_run_prints_what_would_go_and_changes_nothing(personas):
    _ended(personas.customer_a, 400)
    out = StringIO()
    call_command("retention_sweep", "--dry-run", stdout=out)
    text = out.getvalue()
    assert f"customer_record\t{personas.customer_a.pk}" in text
    assert "would shred 1 key(s)" in text
    assert _live(personas.customer_a.pk)
    assert Customer.objects.get(pk=personas.customer_a.pk).email_index is not None


def test_an_interrupted_sweep_resumes_safely(personas, monkeypatch):
    _ended(personas.customer_a, 400)
    _ended(personas.customer_b, 400)
    real = keys.shred

    def crash(scopes):
        raise KeyboardInterrupt

    monkeypatch.setattr(keys, "shred", crash)
    with pytest.raises(KeyboardInterrupt):
        sweep.retention_sweep_run(batch_size=1)
    monkeypatch.setattr(keys, "shred", real)
    # Rows of the first batch were cleared and committed; its key is still live.
    assert _live(personas.customer_a.pk) or _live(personas.customer_b.pk)
    report = sweep.retention_sweep_run(batch_size=1)
    assert report.keys_shredded == 2
    assert not _live(personas.customer_a.pk) and not _live(personas.customer_b.pk)
    assert sweep.retention_sweep_run().per_class == {}  # idempotent


def test_closed_requests_and_decided_verifications_go_on_their_own_clock(personas):
    request = RightsRequest(kind="access", channel="public", status="done", due_on=dt.date.today())
    request.requester_name = "Jan"
    request.requester_email = "jan@example.org"
    request.closed_at = timezone.now() - dt.timedelta(days=3 * 365)
    request.save()
    recent = RightsRequest(
        kind="access",
        channel="public",
        status="done",
        due_on=dt.date.today(),
        closed_at=timezone.now(),
    )
    recent.requester_email = "piet@example.org"
    recent.save()
    report = sweep.retention_sweep_run()
    assert report.per_class == {"rights_request": 1} and report.rows_tombstoned == 1
    request.refresh_from_db()
    with pytest.raises(KeyShredded):
        request.requester_email.open()
    assert request.outcome == {} and request.kind == "access"  # the record itself stays
    assert recent.requester_email.open() == "piet@example.org"


def test_keys_collected_long_ago_expire_from_their_own_creation(personas):
    officer = personas.staff["privacy_officer"]
    request = services.request_from_portal(user=personas.alice, kind="objection")
    services.verification_ask_id_copy(request=request, by=officer)
    services.id_copy_store(request=request, content=png_bytes())
    RightsRequest.objects.filter(pk=request.pk).update(
        verification_decided_at=timezone.now() - dt.timedelta(days=30)
    )
    report = sweep.retention_sweep_run()
    assert report.per_class.get("id_verification") == 1 and report.rows_deleted == 1
