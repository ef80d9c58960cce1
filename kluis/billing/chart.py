"""The finance overview's bar chart: open, overdue and paid per month, as inline SVG.

Drawn on the server with presentation attributes only (no script, no style
attribute: the CSP allows neither), so the page needs nothing downloaded. The page
shows the same numbers in a table; the chart is a picture of that table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from kluis.billing.pdf import euro
from kluis.billing.selectors import MonthFigures

WIDTH = 720
HEIGHT = 300
LEFT = 78  # room for the euro labels of the axis
RIGHT = 12
TOP = 34  # room for the legend
BOTTOM = 28  # room for the month labels
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
BAR_GAP = 2
FONT_SIZE = 11


@dataclass(frozen=True)
class Series:
    key: str
    colour: str
    label: str


def _series() -> tuple[Series, ...]:
    # Colours that stay apart for the common colour-vision deficiencies (Okabe-Ito).
    return (
        Series("open", "#0072b2", _("Openstaand")),
        Series("overdue", "#d55e00", _("Waarvan te laat")),
        Series("paid", "#009e73", _("Betaald in de maand")),
    )


def _values(month: MonthFigures) -> dict[str, int]:
    return {"open": month.open_cents, "overdue": month.overdue_cents, "paid": month.paid_cents}


def axis_top(largest_cents: int) -> int:
    """A round number of cents at or above the largest value: 1, 2, 2.5 or 5 times 10^n euro."""
    if largest_cents <= 0:
        return 100
    magnitude = 10 ** max(math.floor(math.log10(largest_cents)), 2)
    for step in (1, 2, 2.5, 5, 10):
        top = int(step * magnitude)
        if top >= largest_cents:
            return top
    raise AssertionError("unreachable: 10 * magnitude exceeds the largest value")


def _n(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _tick(cents: int) -> str:
    if cents % 100:
        return euro(cents)
    return f"€ {cents // 100:,}".replace(",", ".")


def grid(top: int, tick: Callable[[int], str]) -> list[str]:
    """The value axis: five lines from 0 to `top`, each labelled by `tick` (escaped)."""
    baseline = TOP + PLOT_HEIGHT
    out = []
    for quarter in range(5):
        y = baseline - PLOT_HEIGHT * quarter / 4
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_n(y)}" y2="{_n(y)}" '
            f'stroke="{"#5b6577" if quarter == 0 else "#d8dde6"}" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{_n(y + 4)}" text-anchor="end" fill="#5b6577">'
            f"{escape(tick(top * quarter // 4))}</text>"
        )
    return out


def months_chart(months: Sequence[MonthFigures]) -> SafeString:
    """The chart as an <svg> element to put inline in a page; every text is escaped."""
    series = _series()
    top = axis_top(max((v for m in months for v in _values(m).values()), default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(len(months), 1)
    bar = (slot - 4 * BAR_GAP) / len(series)
    baseline = TOP + PLOT_HEIGHT
    title = _("Openstaand, te laat en betaald per maand")
    description = _("De tabel bij de grafiek geeft dezelfde bedragen.")
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" '
        'aria-labelledby="finance-chart-title finance-chart-desc" '
        f'font-family="system-ui, sans-serif" font-size="{FONT_SIZE}" '
        f'data-axis-top="{top}">',
        f'<title id="finance-chart-title">{escape(title)}</title>',
        f'<desc id="finance-chart-desc">{escape(description)}</desc>',
    ]
    out += grid(top, _tick)
    for number, one in enumerate(series):
        x = LEFT + number * 170
        out.append(
            f'<rect x="{x}" y="8" width="12" height="12" fill="{one.colour}"/>'
            f'<text x="{x + 17}" y="18" fill="#1d2433">{escape(one.label)}</text>'
        )
    for index, month in enumerate(months):
        x0 = LEFT + index * slot + 2 * BAR_GAP
        label = date_format(month.month, "M Y")
        out.append(f'<g data-month="{month.month:%Y-%m}">')
        for number, (one, cents) in enumerate(zip(series, _values(month).values(), strict=True)):
            # A month whose chargebacks outweigh its payments has no bar; its title
            # and data-cents (and the table beside the chart) give the negative sum.
            height = PLOT_HEIGHT * max(cents, 0) / top
            out.append(
                f'<rect class="bar" data-series="{one.key}" data-cents="{cents}" '
                f'x="{_n(x0 + number * bar)}" y="{_n(baseline - height)}" '
                f'width="{_n(bar - BAR_GAP)}" height="{_n(height)}" fill="{one.colour}">'
                f"<title>{escape(f'{label} · {one.label}: {euro(cents)}')}</title></rect>"
            )
        out.append(
            f'<text x="{_n(x0 + (slot - 4 * BAR_GAP) / 2)}" y="{baseline + 16}" '
            f'text-anchor="middle" fill="#5b6577">{escape(date_format(month.month, "M"))}</text>'
            "</g>"
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above went through escape()
