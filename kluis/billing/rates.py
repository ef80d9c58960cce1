"""Standard VAT rates of the EU member states (basis points), for OSS invoices.

Changes after 2024 are dated rows: Finland 25.5 % from 2024-09-01, Slovakia 23 %
from 2025-01-01, Estonia 24 % from 2025-07-01, Romania 21 % from 2025-08-01.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

START = dt.date(2024, 1, 1)
RATES: list[tuple[str, int, dt.date, dt.date | None]] = [
    ("AT", 2000, START, None),
    ("BE", 2100, START, None),
    ("BG", 2000, START, None),
    ("CY", 1900, START, None),
    ("CZ", 2100, START, None),
    ("DE", 1900, START, None),
    ("DK", 2500, START, None),
    ("EE", 2200, START, dt.date(2025, 6, 30)),
    ("EE", 2400, dt.date(2025, 7, 1), None),
    ("ES", 2100, START, None),
    ("FI", 2400, START, dt.date(2024, 8, 31)),
    ("FI", 2550, dt.date(2024, 9, 1), None),
    ("FR", 2000, START, None),
    ("GR", 2400, START, None),
    ("HR", 2500, START, None),
    ("HU", 2700, START, None),
    ("IE", 2300, START, None),
    ("IT", 2200, START, None),
    ("LT", 2100, START, None),
    ("LU", 1700, START, None),
    ("LV", 2100, START, None),
    ("MT", 1800, START, None),
    ("NL", 2100, START, None),
    ("PL", 2300, START, None),
    ("PT", 2300, START, None),
    ("RO", 1900, START, dt.date(2025, 7, 31)),
    ("RO", 2100, dt.date(2025, 8, 1), None),
    ("SE", 2500, START, None),
    ("SI", 2200, START, None),
    ("SK", 2000, START, dt.date(2024, 12, 31)),
    ("SK", 2300, dt.date(2025, 1, 1), None),
]


def vat_rates_load(model: Any = None) -> None:
    """Add the rates that are missing; loading again changes nothing."""
    if model is None:
        from kluis.billing.models import VatRate

        model = VatRate
    model.objects.bulk_create(
        [model(country=c, rate_bp=r, valid_from=f, valid_until=u) for c, r, f, u in RATES],
        ignore_conflicts=True,
    )
