"""The privacy statement as a PDF (R46: download, save and print each version).

Drawn from the same `Document` as the web page. The built-in Helvetica is used on
purpose: it needs no font file on the server, and its WinAnsi encoding has every
character Dutch needs (e-diaeresis, e-acute, the en dash, curly quotes, the euro
sign). The output is deterministic (`invariant`, dated the version's publication day)
and uncompressed, so one version and language always gives the same bytes and its text
can be checked without a PDF library.
"""

from __future__ import annotations

import datetime as dt
import io
from xml.sax.saxutils import escape, quoteattr

from django.utils.translation import gettext as _
from django.utils.translation import override
from reportlab.graphics.shapes import Drawing, Group, Path, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from kluis.policy import dataflow
from kluis.policy.render import DASH, Document, Figure, Items, Lines, Para, Section
from kluis.policy.render import Table as DocTable

INK = colors.HexColor("#1d2433")
MUTED = colors.HexColor("#5b6577")
ACCENT = colors.HexColor("#0b6e4f")
LINE = colors.HexColor("#d8dde6")

BODY = ParagraphStyle(
    "body", fontName="Helvetica", fontSize=9.5, leading=13, textColor=INK, spaceAfter=4
)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8.5, leading=11, spaceAfter=0)
HEAD = ParagraphStyle("head", parent=SMALL, fontName="Helvetica-Bold")
BULLET = ParagraphStyle("bullet", parent=BODY, leftIndent=5 * mm, bulletIndent=1 * mm)
CAPTION = ParagraphStyle("caption", parent=SMALL, textColor=MUTED, spaceBefore=2, spaceAfter=8)
TITLE = ParagraphStyle(
    "title", parent=BODY, fontName="Helvetica-Bold", fontSize=20, leading=24, textColor=ACCENT
)
H2 = ParagraphStyle(
    "h2",
    parent=BODY,
    fontName="Helvetica-Bold",
    fontSize=13,
    leading=16,
    spaceBefore=10,
    spaceAfter=4,
    alignment=TA_LEFT,
)
H3 = ParagraphStyle("h3", parent=H2, fontSize=10.5, leading=13, spaceBefore=6, spaceAfter=2)


def _markup(paragraph: Para) -> str:
    """ReportLab paragraph markup for one paragraph, every text escaped."""
    out = []
    for span in paragraph.spans:
        text = escape(span.text).replace("\n", "<br/>")
        if span.strong:
            text = f"<b>{text}</b>"
        # A site-relative link means nothing on paper; only absolute links stay links.
        if span.href.startswith(("https://", "http://", "mailto:")):
            text = f'<a href={quoteattr(span.href)} color="#0b6e4f">{text}</a>'
        out.append(text)
    return "".join(out)


def _cell(text: str, style: ParagraphStyle = SMALL) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _table(table: DocTable, width: float) -> Table:
    scale = width / sum(table.widths)
    data = [[_cell(c, HEAD) for c in table.columns]]
    data += [[_cell(c) for c in row.cells] for row in table.rows]
    flowable = Table(data, colWidths=[w * scale for w in table.widths], repeatRows=1)
    flowable.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.5, LINE),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return flowable


def flow_drawing(flow: dataflow.FlowMap, width: float) -> Drawing:
    """The data-flow map as ReportLab shapes: the SVG's layout, y turned upside down."""
    scale = min(1.0, width / flow.width)
    top = flow.height
    group = Group()
    group.transform = (scale, 0, 0, scale, 0, 0)
    for x, text in flow.headings:
        group.add(
            String(
                x,
                top - dataflow.MARGIN - 14,
                text,
                fontName="Helvetica-Bold",
                fontSize=dataflow.FONT_SIZE,
                textAnchor="middle",
                fillColor=INK,
            )
        )
    for edge in flow.edges:
        x1, y1 = edge.source.x + edge.source.width, top - edge.source.middle
        x2, y2 = edge.target.x, top - edge.target.middle
        bend = (x2 - x1) / 2
        path = Path(strokeColor=colors.HexColor(edge.colour), strokeWidth=1.2, fillColor=None)
        path.moveTo(x1, y1)
        path.curveTo(x1 + bend, y1, x2 - bend, y2, x2, y2)
        group.add(path)
    for node in flow.nodes:
        group.add(
            Rect(
                node.x,
                top - node.y - node.height,
                node.width,
                node.height,
                rx=5,
                ry=5,
                fillColor=colors.HexColor("#f3f6f9"),
                strokeColor=colors.HexColor("#9aa6b8"),
            )
        )
        for number, line in enumerate(node.lines):
            baseline = node.y + dataflow.PADDING + dataflow.FONT_SIZE - 1
            group.add(
                String(
                    node.x + dataflow.PADDING,
                    top - baseline - number * dataflow.LINE_HEIGHT,
                    line,
                    fontName="Helvetica",
                    fontSize=dataflow.FONT_SIZE,
                    fillColor=INK,
                )
            )
    drawing = Drawing(flow.width * scale, flow.height * scale)
    drawing.add(group)
    return drawing


def _section(section: Section, width: float) -> list[Flowable]:
    story: list[Flowable] = []
    if section.title:
        # Policy labels are lower case ("onze serverleverancier"); a heading starts with a capital.
        title = section.title[:1].upper() + section.title[1:]
        heading = Paragraph(escape(title), H2 if section.level <= 2 else H3)
        heading.keepWithNext = True
        story.append(heading)
    for block in section.blocks:
        if isinstance(block, Para):
            story.append(Paragraph(_markup(block), BODY))
        elif isinstance(block, Items):
            story += [Paragraph(_markup(item), BULLET, bulletText=DASH) for item in block.items]
        elif isinstance(block, Lines):
            story.append(Paragraph("<br/>".join(_markup(line) for line in block.lines), BODY))
        elif isinstance(block, DocTable):
            story += [_table(block, width), Spacer(1, 4)]
        elif isinstance(block, Figure):
            caption = Paragraph(escape(block.caption), CAPTION)
            story.append(KeepTogether([flow_drawing(block.flow, width), caption]))
    return story


class _PublishedOn:
    """A ReportLab time stamp for the PDF's creation and modification date (UTC)."""

    def __init__(self, date: dt.date) -> None:
        self.YMDhms = (date.year, date.month, date.day, 0, 0, 0)
        self.dhh = 0
        self.dmm = 0


def statement_pdf(document: Document) -> bytes:
    buffer = io.BytesIO()
    with override(document.language):
        footer = f"{document.title} {document.controller} · {document.version_line} · " + (
            document.changed_line
        )
        page_word = _("Pagina")
        pdf = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=18 * mm,
            rightMargin=18 * mm,
            topMargin=18 * mm,
            bottomMargin=20 * mm,
            title=f"{document.title} {document.controller}",
            author=document.controller,
            subject=document.version_line,
            lang=document.language,
            invariant=1,
            pageCompression=0,
        )

        def draw_footer(canvas: Canvas, template: SimpleDocTemplate) -> None:
            # `invariant` keeps the bytes stable but dates the file 1 January 2000; the
            # version's own publication date is as stable and is true.
            canvas._doc._timeStamp = _PublishedOn(document.date)
            canvas.saveState()
            canvas.setFont("Helvetica", 7.5)
            canvas.setFillColor(MUTED)
            canvas.drawString(template.leftMargin, 10 * mm, footer)
            canvas.drawRightString(
                A4[0] - template.rightMargin, 10 * mm, f"{page_word} {canvas.getPageNumber()}"
            )
            canvas.restoreState()

        story: list[Flowable] = [
            Paragraph(escape(f"{document.title} {document.controller}"), TITLE),
            Spacer(1, 3 * mm),
            Paragraph(escape(f"{document.version_line} · {document.changed_line}"), CAPTION),
        ]
        for section in document.sections:
            story += _section(section, pdf.width)
        pdf.build(story, onFirstPage=draw_footer, onLaterPages=draw_footer)
    return buffer.getvalue()
