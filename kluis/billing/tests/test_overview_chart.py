"""The chart of the finance overview: bars whose heights follow the months' amounts."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from django.utils.translation import override

from kluis.billing.chart import PLOT_HEIGHT, TOP, axis_top, months_chart
from kluis.billing.selectors import MonthFigures

SVG = "{http://www.w3.org/2000/svg}"


def month(first: dt.date, open_cents: int, overdue_cents: int, paid_cents: int) -> MonthFigures:
    return MonthFigures(
        month=first,
        cutoff=first + dt.timedelta(days=27),
        open_count=1,
        open_cents=open_cents,
        overdue_count=1,
        overdue_cents=overdue_cents,
        paid_count=1,
        paid_cents=paid_cents,
    )


MONTHS = [
    month(dt.date(2026, 1, 1), 40_000, 10_000, 0),
    month(dt.date(2026, 2, 1), 120_000, 60_000, 30_000),
    month(dt.date(2026, 3, 1), 80_000, 0, 150_000),
]


def bars(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.tag == f"{SVG}svg"
    return [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]


def test_each_month_has_a_bar_per_series_in_order():
    found = bars(months_chart(MONTHS))
    assert [(b.get("data-series"), int(b.get("data-cents", ""))) for b in found] == [
        ("open", 40_000),
        ("overdue", 10_000),
        ("paid", 0),
        ("open", 120_000),
        ("overdue", 60_000),
        ("paid", 30_000),
        ("open", 80_000),
        ("overdue", 0),
        ("paid", 150_000),
    ]


def test_bar_heights_follow_the_amounts_on_one_scale():
    svg = months_chart(MONTHS)
    top = int(ET.fromstring(svg).get("data-axis-top", ""))  # noqa: S314
    assert top == 200_000  # € 1.500 rounded up to € 2.000
    found = bars(svg)
    baseline = TOP + PLOT_HEIGHT
    for bar in found:
        cents = int(bar.get("data-cents", ""))
        height = float(bar.get("height", ""))
        assert height == pytest.approx(PLOT_HEIGHT * cents / top, abs=0.01)
        # Every bar stands on the baseline.
        assert float(bar.get("y", "")) + height == pytest.approx(baseline, abs=0.01)
    heights = [float(b.get("height", "")) for b in found]
    # 150 000 is the largest amount, and 120 000 is three times 40 000.
    assert max(heights) == heights[8]
    assert heights[3] == pytest.approx(3 * heights[0], abs=0.02)
    assert heights[2] == heights[7] == 0


def test_an_empty_year_draws_flat_bars():
    empty = [month(dt.date(2026, m, 1), 0, 0, 0) for m in range(1, 13)]
    found = bars(months_chart(empty))
    assert len(found) == 36
    assert {float(b.get("height", "")) for b in found} == {0}


@pytest.mark.parametrize(
    ("largest", "top"),
    [
        (0, 100),
        (1, 100),
        (100, 100),
        (101, 200),
        (12_345, 20_000),
        (20_001, 25_000),
        (99_999, 100_000),
    ],
)
def test_the_axis_ends_on_a_round_amount_at_or_above_the_largest(largest, top):
    assert axis_top(largest) == top


def test_the_chart_speaks_the_page_language_and_needs_no_script_or_style():
    with override("en"):
        english = months_chart(MONTHS)
    with override("nl"):
        dutch = months_chart(MONTHS)
    assert "Open, overdue and paid per month" in english and ">Mar<" in english
    assert "Openstaand, te laat en betaald per maand" in dutch and ">Mrt<" in dutch
    for svg in (english, dutch):
        assert "<script" not in svg and "style=" not in svg
        assert 'role="img"' in svg and 'aria-labelledby="finance-chart-title' in svg
