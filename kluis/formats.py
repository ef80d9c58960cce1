"""Amounts and dates as a reader of each language expects them (NL Design System, GOV.UK).

Dutch: "€ 1.234,56"; English: "€1,234.56". Negative amounts (credit notes) carry a
minus sign before the euro sign. Dates: "4 december 2026" and "4 December 2026" (in
templates `{% load ui %}` and `|long_date`, `|long_datetime`), never "04-12-2026" or an
ISO timestamp in anything a customer or a colleague reads. The language is the active
one: pages, mails and PDFs are rendered inside `translation.override(language)`.
"""

from __future__ import annotations

import datetime as dt

from django.utils import formats, timezone, translation


def euro(cents: int, language: str | None = None) -> str:
    lang = (language or translation.get_language() or "nl")[:2]
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(int(cents)), 100)
    if lang == "en":
        return f"{sign}€{whole:,}.{rest:02d}"
    return f"{sign}€ {whole:,}".replace(",", ".") + f",{rest:02d}"


def long_date(value: dt.date | dt.datetime | str | None, language: str | None = None) -> str:
    """A day as a reader writes it: "4 december 2026" (Dutch), "4 December 2026" (English).

    A moment is first taken to Amsterdam time, so that 23:30 UTC on 3 December is read
    as 4 December. An ISO text (as stored in JSON) is read first; None or "" stays "".
    """
    day = _moment(value)
    if day is None:
        return ""
    if isinstance(day, dt.datetime):
        day = day.date()
    return _format(day, "j F Y", language)


def long_datetime(
    value: dt.date | dt.datetime | str | None,
    language: str | None = None,
    *,
    seconds: bool = False,
) -> str:
    """A moment as "4 december 2026, 14:05" (with `seconds`, "14:05:09"), Amsterdam time."""
    moment = _moment(value)
    if moment is None:
        return ""
    if not isinstance(moment, dt.datetime):
        return _format(moment, "j F Y", language)
    return _format(moment, "j F Y, H:i:s" if seconds else "j F Y, H:i", language)


def _moment(value: dt.date | dt.datetime | str | None) -> dt.date | dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = (
                dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
            )
        except ValueError:
            return None
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def _format(value: dt.date, pattern: str, language: str | None) -> str:
    lang = (language or translation.get_language() or "nl")[:2]
    with translation.override("en" if lang == "en" else "nl"):
        return formats.date_format(value, pattern)
