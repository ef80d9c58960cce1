"""The data-flow map: categories → purposes → recipients, as declared in the policy.

`flow_map` lays the map out once (plain coordinates, no drawing library), and two
writers draw that layout: `flow_svg` here for the web, and the PDF writer with
ReportLab shapes. The layout only depends on the policy's order, so the same policy
always gives the same picture.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from django.utils.translation import gettext as _
from django.utils.translation import override

from kluis.policy.schema import Policy

COLUMN_WIDTH = 230.0
COLUMN_GAP = 120.0
MARGIN = 16.0
HEADING_HEIGHT = 34.0
FONT_SIZE = 12.0
LINE_HEIGHT = 15.0
PADDING = 7.0
NODE_GAP = 9.0
CHARS_PER_LINE = 30
MAX_LINES = 3
# One colour per purpose, so the lines of one purpose can be followed across the map.
PALETTE = ("#0b6e4f", "#1f5fa8", "#a8541f", "#7a3e9d", "#b0306a", "#4f6d1a", "#2b7c8f", "#8a6d0b")
KINDS = ("category", "purpose", "recipient")


@dataclass(frozen=True)
class Node:
    kind: str
    key: str
    label: str
    lines: tuple[str, ...]
    x: float
    y: float
    width: float
    height: float

    @property
    def middle(self) -> float:
        return self.y + self.height / 2


@dataclass(frozen=True)
class Edge:
    source: Node
    target: Node
    colour: str


@dataclass(frozen=True)
class FlowMap:
    title: str
    width: float
    height: float
    headings: tuple[tuple[float, str], ...]  # (x of the column's centre, text)
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def _wrap(label: str) -> tuple[str, ...]:
    lines = textwrap.wrap(label, CHARS_PER_LINE) or [""]
    if len(lines) > MAX_LINES:
        lines = [
            *lines[: MAX_LINES - 1],
            textwrap.shorten(" ".join(lines[MAX_LINES - 1 :]), CHARS_PER_LINE, placeholder=" …"),
        ]
    return tuple(lines)


def flow_map(policy: Policy, language: str) -> FlowMap:
    columns: list[list[tuple[str, str]]] = [
        [(key, c.label.get(language)) for key, c in policy.categories.items()],
        [(key, p.label.get(language)) for key, p in policy.purposes.items()],
        [(key, r.label.get(language)) for key, r in policy.recipients.items()],
    ]
    sizes = [
        [len(_wrap(label)) * LINE_HEIGHT + 2 * PADDING for _key, label in column]
        for column in columns
    ]
    totals = [sum(s) + NODE_GAP * max(len(s) - 1, 0) for s in sizes]
    body = max(totals)
    nodes: dict[tuple[str, str], Node] = {}
    for index, (kind, column, heights, total) in enumerate(
        zip(KINDS, columns, sizes, totals, strict=True)
    ):
        x = MARGIN + index * (COLUMN_WIDTH + COLUMN_GAP)
        y = MARGIN + HEADING_HEIGHT + (body - total) / 2  # shorter columns are centred
        for (key, label), height in zip(column, heights, strict=True):
            nodes[kind, key] = Node(kind, key, label, _wrap(label), x, y, COLUMN_WIDTH, height)
            y += height + NODE_GAP
    edges: list[Edge] = []
    for number, (key, purpose) in enumerate(policy.purposes.items()):
        colour = PALETTE[number % len(PALETTE)]
        for category in purpose.categories:
            edges.append(Edge(nodes["category", category], nodes["purpose", key], colour))
        for rkey, recipient in policy.recipients.items():
            if key in recipient.purposes:
                edges.append(Edge(nodes["purpose", key], nodes["recipient", rkey], colour))
    with override(language):
        headings = (_("Gegevens"), _("Doelen"), _("Ontvangers"))
        title = _("Gegevensstromen: welke gegevens voor welk doel naar welke ontvanger gaan")
    return FlowMap(
        title=title,
        width=2 * MARGIN + 3 * COLUMN_WIDTH + 2 * COLUMN_GAP,
        height=2 * MARGIN + HEADING_HEIGHT + body,
        headings=tuple(
            (MARGIN + i * (COLUMN_WIDTH + COLUMN_GAP) + COLUMN_WIDTH / 2, text)
            for i, text in enumerate(headings)
        ),
        nodes=tuple(nodes.values()),
        edges=tuple(edges),
    )


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def flow_svg(flow: FlowMap) -> str:
    """The map as a standalone SVG document; every label is XML-escaped."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(flow.width)}" '
        f'height="{_n(flow.height)}" viewBox="0 0 {_n(flow.width)} {_n(flow.height)}" '
        'role="img" aria-labelledby="flow-title" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
        f'font-size="{_n(FONT_SIZE)}">',
        f'<title id="flow-title">{escape(flow.title)}</title>',
        f'<rect width="{_n(flow.width)}" height="{_n(flow.height)}" fill="#ffffff"/>',
    ]
    for x, text in flow.headings:
        out.append(
            f'<text x="{_n(x)}" y="{_n(MARGIN + 14)}" text-anchor="middle" '
            f'font-weight="bold" fill="#1d2433">{escape(text)}</text>'
        )
    out.append('<g fill="none" stroke-width="1.5" stroke-opacity="0.55">')
    for edge in flow.edges:
        x1, y1 = edge.source.x + edge.source.width, edge.source.middle
        x2, y2 = edge.target.x, edge.target.middle
        bend = (x2 - x1) / 2
        out.append(
            f'<path d="M{_n(x1)} {_n(y1)} C{_n(x1 + bend)} {_n(y1)} {_n(x2 - bend)} {_n(y2)} '
            f'{_n(x2)} {_n(y2)}" stroke="{edge.colour}" '
            f"data-from={quoteattr(edge.source.key)} data-to={quoteattr(edge.target.key)}/>"
        )
    out.append("</g>")
    for node in flow.nodes:
        out.append(
            f"<g class={quoteattr('node ' + node.kind)} data-kind={quoteattr(node.kind)} "
            f"data-key={quoteattr(node.key)}>"
            f"<title>{escape(node.label)}</title>"
            f'<rect x="{_n(node.x)}" y="{_n(node.y)}" width="{_n(node.width)}" '
            f'height="{_n(node.height)}" rx="5" fill="#f3f6f9" stroke="#9aa6b8"/>'
        )
        for number, line in enumerate(node.lines):
            baseline = node.y + PADDING + FONT_SIZE - 1 + number * LINE_HEIGHT
            out.append(
                f'<text x="{_n(node.x + PADDING)}" y="{_n(baseline)}" fill="#1d2433">'
                f"{escape(line)}</text>"
            )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
