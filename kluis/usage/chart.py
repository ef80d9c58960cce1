"""A day-by-day bar chart of one figure, as inline SVG, drawn like finance's chart.

It takes finance's measures, its value axis (`grid`) and round axis top (`axis_top`):
presentation attributes only, no script and no style attribute, every text escaped.
The page shows the same numbers in a table; the chart is a picture of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from kluis.billing.chart import (
    BOTTOM,
    FONT_SIZE,
    HEIGHT,
    LEFT,
    PLOT_HEIGHT,
    RIGHT,
    TOP,
    WIDTH,
    _n,
    grid,
)
from kluis.billing.chart import axis_top as _axis_top
from kluis.usage.selectors import Day

BAR_GAP = 1


def axis_top(largest: int) -> int:
    """Finance's round axis works in cents (at least 100); counts start at 10."""
    if largest <= 10:
        return 10
    return _axis_top(largest)


def days_chart(
    days: Sequence[Day],
    *,
    key: str,
    title: str,
    colour: str,
    label: Callable[[int], str] = str,
) -> SafeString:
    values = [int(getattr(d, key)) for d in days]
    top = axis_top(max(values, default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    baseline = TOP + PLOT_HEIGHT
    ident = f"usage-{key}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="{ident}-title" '
        f'font-family="system-ui, sans-serif" font-size="{FONT_SIZE}" data-axis-top="{top}">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<text x="{LEFT}" y="18" fill="#1d2433">{escape(title)}</text>',
    ]
    out += grid(top, label)
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        x = LEFT + index * slot + BAR_GAP
        height = PLOT_HEIGHT * value / top
        out.append(
            f'<rect class="bar" data-day="{day.day:%Y-%m-%d}" data-value="{value}" '
            f'x="{_n(x)}" y="{_n(baseline - height)}" width="{_n(max(slot - 2 * BAR_GAP, 1))}" '
            f'height="{_n(height)}" fill="{colour}">'
            f"<title>{escape(date_format(day.day, 'j M') + ': ' + label(value))}</title></rect>"
        )
        if index % 15 == 0:
            out.append(
                f'<text x="{_n(x)}" y="{baseline + BOTTOM - 12}" fill="#5b6577">'
                f"{escape(date_format(day.day, 'j M'))}</text>"
            )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308  (every text above is escaped)
