"""Bulk reads over rows that share their subjects: the vault works out each person and
key scope once, and every row still opens with its own key, row and period."""

from __future__ import annotations

import json
import uuid

import pytest

from kluis.audit.models import AuditEntry
from kluis.policy.enforce import Actor
from kluis.sites import firewall
from kluis.sites.models import AllowEntry, HelpRequest
from kluis.sites.testing import make_entry, make_help_request, make_site
from kluis.vault.reveal import reveal_many

pytestmark = pytest.mark.django_db(databases="__all__")


def _last_reveal() -> dict[str, object]:
    entry = AuditEntry.objects.filter(action="vault.reveal").order_by("-seq").first()
    assert entry is not None
    payload = json.loads(entry.payload)
    return payload.get("data", payload)


def test_rows_sharing_a_subject_object_open_each_with_its_own_key(personas):
    """The firewall's rows share one UUID object per customer, rows read through the
    ORM each have their own; mixed and interleaved (another customer's row between
    two of one customer's), every row opens as it does alone, and the reveal is
    recorded for each customer once."""
    site_a, site_b = make_site(personas.customer_a), make_site(personas.customer_b)
    texts = {}
    for n in range(3):
        texts[make_entry(site_a, personas.alice, f"145.100.10.{n + 1}").pk] = f"145.100.10.{n + 1}"
        texts[make_entry(site_b, personas.bob, f"145.100.20.{n + 1}").pk] = f"145.100.20.{n + 1}"
    shared = firewall._entry_rows(AllowEntry.objects.all())
    by_pk = {uuid.UUID(row.pk): row for row in shared}
    assert len({id(row.customer_id) for row in shared}) == 2  # one object per customer
    loaded = {row.pk: row for row in AllowEntry.objects.all()}
    order = [pk for pk in sorted(texts) if texts[pk].startswith("145.100.10.")]
    others = [pk for pk in sorted(texts) if texts[pk].startswith("145.100.20.")]
    # a, b, a, b, a, b: the subject changes on every row; half shared, half loaded.
    pks = [pk for pair in zip(order, others, strict=True) for pk in pair]
    rows = [by_pk[pk] if n % 3 else loaded[pk] for n, pk in enumerate(pks)]
    assert len({type(row.customer_id) for row in rows}) == 1
    values = reveal_many(rows, ["network"], purpose="admin_access", actor=firewall.ACTOR)
    assert [v["network"] for v in values] == [texts[pk] for pk in pks]
    recorded = _last_reveal()
    assert recorded["subjects"] == sorted(
        [str(personas.customer_a.pk), str(personas.customer_b.pk)]
    )
    for row, pk in zip(rows, pks, strict=True):
        [alone] = reveal_many([row], ["network"], purpose="admin_access", actor=firewall.ACTOR)
        assert alone["network"] == texts[pk]


def test_rows_of_one_subject_in_several_periods_open_each_under_its_period(personas):
    """Help requests are sealed per request (vault_row_period): one customer's
    requests interleaved with another's each open under their own period's key."""
    site_a, site_b = make_site(personas.customer_a), make_site(personas.customer_b)
    made = [make_help_request(site) for site in (site_a, site_a, site_b, site_a)]
    texts = ["Eerste van A", "Tweede van A", "Van B", "Derde van A"]
    for request, text in zip(made, texts, strict=True):
        request.message = text
        request.save()
    rows = list(HelpRequest.objects.filter(pk__in=[r.pk for r in made]))
    rows.sort(key=lambda r: [m.pk for m in made].index(r.pk))
    # One UUID object for all of A's rows, as a bulk reader shares it: the periods
    # still tell their scopes apart.
    for row in rows:
        if row.customer_id == personas.customer_a.pk:
            row.customer_id = personas.customer_a.pk
    assert len({r.key_period for r in rows if r.customer_id == personas.customer_a.pk}) == 3
    actor = Actor.system("test_reveal_rows")
    values = reveal_many(rows, ["message"], purpose="data_subject_rights", actor=actor)
    assert [v["message"] for v in values] == texts
    assert _last_reveal()["subjects"] == sorted(
        [str(personas.customer_a.pk), str(personas.customer_b.pk)]
    )


def test_rows_whose_subject_column_is_deferred_still_open_with_their_own_key(personas):
    """Rows loaded without their subject column (here one of three): the vault reads it
    as the model would, from the database, and each row opens as it does alone."""
    site_a, site_b = make_site(personas.customer_a), make_site(personas.customer_b)
    made = [
        make_entry(site_a, personas.alice, "145.100.30.1"),
        make_entry(site_b, personas.bob, "145.100.40.1"),
        make_entry(site_a, personas.alice, "145.100.30.2"),
    ]
    loaded = {row.pk: row for row in AllowEntry.objects.filter(pk__in=[m.pk for m in made])}
    rows = [loaded[m.pk] for m in made]
    [deferred] = AllowEntry.objects.filter(pk=made[1].pk).defer("customer")
    assert "customer_id" not in deferred.__dict__
    rows[1] = deferred
    values = reveal_many(rows, ["network"], purpose="admin_access", actor=firewall.ACTOR)
    assert [v["network"] for v in values] == ["145.100.30.1", "145.100.40.1", "145.100.30.2"]
    assert _last_reveal()["subjects"] == sorted(
        [str(personas.customer_a.pk), str(personas.customer_b.pk)]
    )
