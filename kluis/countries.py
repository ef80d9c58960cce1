"""Country groups that several apps need, as ISO 3166-1 alpha-2 codes."""

from __future__ import annotations

# The member states of the European Union (Greece as GR, its ISO code).
EU_COUNTRIES = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    }
)

# The European Economic Area: the EU and Iceland, Liechtenstein and Norway.
EU_EEA = EU_COUNTRIES | frozenset({"IS", "LI", "NO"})
