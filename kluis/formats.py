"""Amounts as a reader of each language expects them (NL Design System, GOV.UK).

Dutch: "€ 1.234,56"; English: "€1,234.56". Negative amounts (credit notes) carry a
minus sign before the euro sign. The language is the active one: pages, mails and PDFs
are rendered inside `translation.override(language)`.
"""

from __future__ import annotations

from django.utils import translation


def euro(cents: int, language: str | None = None) -> str:
    lang = (language or translation.get_language() or "nl")[:2]
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(int(cents)), 100)
    if lang == "en":
        return f"{sign}€{whole:,}.{rest:02d}"
    return f"{sign}€ {whole:,}".replace(",", ".") + f",{rest:02d}"
