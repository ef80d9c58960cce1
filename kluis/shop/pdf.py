"""An order's agreement or processor agreement as a PDF (ReportLab).

The PDF is deterministic (`invariant`): the same order, document version and data
give the same bytes, so the hash kept in the acceptance evidence can be checked
against the attachment made again at delivery. Every value is escaped before it goes
into a ReportLab paragraph: a customer's "<b>" or "{{ x }}" prints as typed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _
from django.utils.translation import override
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from kluis.policy.pdf import BODY, H3, LINE, SMALL, TITLE
from kluis.shop.documents import DocumentText


@dataclass(frozen=True)
class OrderFacts:
    """What the header of an order document shows; values already revealed."""

    number: str
    date: str
    customer_number: str
    name: str
    notes: str
    lines: list[tuple[str, str]]  # (description, price with period)
    total: str
    total_label: str = ""  # "Totaal (incl. btw)" for a consumer; excl. when empty


def _p(text: str, style: object = BODY) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def render_order_document(doc: DocumentText, facts: OrderFacts) -> bytes:
    out = io.BytesIO()
    with override(doc.language):
        pdf = SimpleDocTemplate(
            out,
            pagesize=A4,
            leftMargin=20 * mm,
            rightMargin=20 * mm,
            topMargin=18 * mm,
            bottomMargin=18 * mm,
            title=doc.title,
            author="winkeltjes.net",
            invariant=1,
            pageCompression=0,
        )
        story: list[object] = [
            _p(doc.title, TITLE),
            _p(_("Versie %(version)s") % {"version": doc.version}, SMALL),
            Spacer(1, 4 * mm),
            _p(
                _("Bestelling %(number)s van %(date)s")
                % {"number": facts.number, "date": facts.date},
                H3,
            ),
            _p(
                _("Klant: %(name)s (klantnummer %(customer)s)")
                % {"name": facts.name, "customer": facts.customer_number}
            ),
        ]
        rows = [[_p(d, SMALL), _p(p, SMALL)] for d, p in facts.lines]
        label = facts.total_label or _("Totaal (excl. btw)")
        rows.append([_p(label, SMALL), _p(facts.total, SMALL)])
        table = Table(rows, colWidths=[120 * mm, 50 * mm])
        table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE)]))
        story += [table, Spacer(1, 3 * mm)]
        if facts.notes:
            story += [_p(_("Je opmerkingen bij de bestelling"), H3), _p(facts.notes)]
        story.append(Spacer(1, 4 * mm))
        for block in doc.body.split("\n\n"):
            lines = block.splitlines()
            if len(lines) > 1 and lines[0][:1].isdigit() and len(lines[0]) < 60:
                story += [_p(lines[0], H3), _p("\n".join(lines[1:]))]
            else:
                story.append(_p(block))
        pdf.build(story)
    return out.getvalue()
