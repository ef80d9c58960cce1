"""Dates you can trust: "Mijn gegevens", the access export and the sweep agree.

A customer whose contract ended late in the evening (UTC), which in Amsterdam is the
next day, and whose fiscal records span two years. For every category and key scope
held, the date on "Mijn gegevens", the date in the export and the date the sweep
expires it are the same; the sweep shreds nothing on that day and does the day after.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from kluis.accounts.selectors import my_data
from kluis.formats import long_date
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.rights import sweep
from kluis.rights.export import build_export
from kluis.rights.retention import kept_until
from kluis.vault.holdings import sealed_holdings

pytestmark = pytest.mark.django_db(databases="__all__")


def test_my_data_the_export_and_the_sweep_give_the_same_dates(personas, later_model):
    alice = personas.customer_a
    # 23:30 UTC on 10 March is 00:30 on 11 March in Amsterdam.
    alice.contract_ended_at = dt.datetime(2025, 3, 10, 23, 30, tzinfo=dt.UTC)
    alice.save(update_fields=["contract_ended_at"])
    for year in (2023, 2024):
        later_model(customer_id=alice.pk, year=year, kvk_number="1", billed_name="Alice").save()
    policy = current_policy()

    scopes: dict[str, set[tuple[str, str]]] = {}
    for h in sealed_holdings(alice.pk):
        cls = h.field.retention_class()
        period = h.row.vault_period(cls) if policy.retention[cls].per_fiscal_year else ""
        scopes.setdefault(h.field.category, set()).add((cls, period))
    assert len(scopes) >= 5 and ("fiscal", "2023") in scopes["user.name"]

    with translation.override("nl"):
        page = {c.key: c.retention for c in my_data(alice).categories}
    export = build_export(subject=alice.pk, actor=Actor.subject(alice.pk), language="nl")
    # The copy names categories by their label, never by key.
    label_of = {key: c.label.get("nl") for key, c in policy.categories.items()}
    exported = {
        c["label"]: {(r["period"], r["until"]) for r in c["retention"]}
        for c in export["categories"]
    }
    checked = 0
    for category, held in scopes.items():
        for cls, period in held:
            until = kept_until(policy, alice.pk, cls, period)
            assert until is not None, (category, cls)
            # "Mijn gegevens" shows this date for this category.
            assert long_date(until, "nl") in page[category], (category, page[category])
            # The export says the same.
            assert (period, until.isoformat()) in exported[label_of[category]], category
            # The sweep keeps it through that day and expires it the day after.
            line = f"{cls}\t{alice.pk}\t{period or '-'}\texpired {until.isoformat()}"
            on_the_day = sweep.retention_sweep_run(dry_run=True, today=until).lines
            after = sweep.retention_sweep_run(dry_run=True, today=until + dt.timedelta(days=1))
            assert not any(x.startswith(line) for x in on_the_day)
            assert any(x.startswith(line) for x in after.lines), (line, after.lines)
            checked += 1
    assert checked >= 6
    # The contract ended on 11 March in Amsterdam: a year later is 11 March 2026.
    record = kept_until(policy, alice.pk, "customer_record")
    assert record == dt.date(2026, 3, 11)
    assert timezone.localdate(alice.contract_ended_at) == dt.date(2025, 3, 11)
