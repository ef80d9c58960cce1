"""Leave room in the invoice table's pages for the one update each invoice gets.

An invoice is written once and updated when it is paid (paid_cents, paid_at) or
credited. Neither column is indexed, so PostgreSQL can make that update a HOT
update, in the same page and without touching the invoice's 11 indexes, but only
when the page has room for the new row version. With the default fillfactor of 100
pages are filled to the brim and every payment rewrote all 11 index entries of its
invoice; 70 keeps about a third of each page free. SQLite has no such setting.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def _fillfactor(value: int) -> Any:
    def apply(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE billing_invoice SET (fillfactor = {value})")

    return apply


class Migration(migrations.Migration):
    dependencies = [("billing", "0015_payment_account_settlement")]

    operations = [migrations.RunPython(_fillfactor(70), _fillfactor(100))]
