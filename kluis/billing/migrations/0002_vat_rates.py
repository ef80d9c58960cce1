"""The standard VAT rates of the EU member states (see kluis/billing/rates.py)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from kluis.billing.rates import vat_rates_load


def load(apps: Any, schema_editor: Any) -> None:
    vat_rates_load(apps.get_model("billing", "VatRate"))


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
