"""The access export as a readable PDF, in Dutch or English.

Every text that came from a person or a row is escaped before ReportLab reads it as
paragraph markup, so "<script>" or "{{ x }}" in a name prints as typed. The activity
log is summarised per kind of event (the JSON has every entry).
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _
from django.utils.translation import override
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from kluis.formats import long_date, long_datetime
from kluis.rights.export import activity_summary

INK = colors.HexColor("#1d2433")
ACCENT = colors.HexColor("#0b6e4f")
LINE = colors.HexColor("#d8dde6")
BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=9.5, leading=13, textColor=INK)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8.5, leading=11)
TITLE = ParagraphStyle(
    "title", parent=BODY, fontName="Helvetica-Bold", fontSize=18, leading=22, textColor=ACCENT
)
H2 = ParagraphStyle(
    "h2", parent=BODY, fontName="Helvetica-Bold", fontSize=12.5, leading=16, spaceBefore=10
)
H3 = ParagraphStyle("h3", parent=H2, fontSize=10, leading=13, spaceBefore=6)
GRID = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8.5),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, LINE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def _p(text: object, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def _table(head: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
    cells = [[_p(h, SMALL) for h in head], *[[_p(c, SMALL) for c in r] for r in rows]]
    table = Table(cells, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(GRID)
    return table


def _plain_table(head: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
    # Plain strings (no paragraph markup is parsed): for long, machine-made lists.
    table = Table([head, *rows], colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(GRID)
    return table


def export_pdf(export: dict[str, Any]) -> bytes:
    with override(export["language"]):
        story = _story(export)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=_("Jouw gegevens bij %(name)s") % {"name": export["controller"]["trade_name"]},
        author=export["controller"]["name"],
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
    )
    doc.build(story)
    return buffer.getvalue()


def _story(export: dict[str, Any]) -> list[Any]:
    c = export["controller"]
    story: list[Any] = [
        _p(_("Jouw gegevens bij %(name)s") % {"name": c["trade_name"]}, TITLE),
        _p(
            _("Opgesteld op %(at)s door %(name)s, %(address)s, %(email)s.")
            % {
                "at": long_datetime(export["generated_at"]),
                "name": c["name"],
                "address": c["address"],
                "email": c["email"],
            }
        ),
        _p(
            _(
                "Dit overzicht is gratis. Het computerleesbare bestand (JSON) bevat dezelfde "
                "gegevens, en de volledige lijst van gebeurtenissen."
            )
        ),
    ]
    story.append(_p(_("Welke gegevens we van je hebben"), H2))
    if not export["categories"]:
        story.append(_p(_("We bewaren geen persoonsgegevens van je.")))
    for cat in export["categories"]:
        story.append(_p(cat["label"], H3))
        story.append(_p(cat["description"], SMALL))
        story.append(
            _table(
                [_("Waar"), _("Gegeven"), _("Waarde")],
                [
                    [
                        v["where"],
                        v["field"],
                        v["value"] if v["value"] is not None else _("vernietigd"),
                    ]
                    for v in cat["values"]
                ],
                [45, 45, 84],
            )
        )
        story.append(_p(_("Bron: %(source)s") % {"source": cat["source"]}, SMALL))
        for p in cat["purposes"]:
            story.append(
                _p(
                    _("Doel: %(purpose)s — %(basis)s")
                    % {"purpose": p["purpose"], "basis": p["legal_basis_detail"]},
                    SMALL,
                )
            )
        for r in cat["retention"]:
            until = long_date(r["until"]) or _("nog geen datum: %(rule)s") % {"rule": r["rule"]}
            story.append(
                _p(
                    _("Bewaard tot %(until)s: %(basis)s") % {"until": until, "basis": r["basis"]},
                    SMALL,
                )
            )
        for d in cat["recipients"]:
            story.append(
                _p(
                    _("Gegeven aan %(who)s op %(at)s")
                    % {"who": d["recipient"], "at": long_date(d["at"])},
                    SMALL,
                )
            )
    story.append(_p(_("Je bestellingen, facturen en betalingen"), H2))
    records = [
        [
            long_date(r["date"]),
            f"{r['kind']} {r['reference']}".strip(),
            "; ".join(f"{f['label']}: {f['value']}" for f in r["facts"]),
        ]
        for r in export["records"]
    ]
    story.append(
        _table([_("Datum"), _("Wat"), _("Gegevens")], records, [22, 50, 102])
        if records
        else _p(_("Er staan geen bestellingen, facturen of betalingen van je bij ons."))
    )
    story.append(_p(_("Wie je gegevens krijgt of kreeg, bij naam"), H2))
    named = [[r["name"], r["why"], r["role"], r["country"]] for r in export["recipients_by_name"]]
    story.append(
        _table([_("Ontvanger"), _("Waarvoor"), _("Rol"), _("Land")], named, [50, 60, 40, 24])
        if named
        else _p(_("Je gegevens gingen en gaan naar niemand buiten ons."))
    )
    story.append(_p(_("Gegevens buiten de EU"), H2))
    transfers = export["transfers_outside_eu"]
    if not transfers["transfers"]:
        story.append(_p(transfers["none"]))
    for r in transfers["transfers"]:
        story.append(_p(f"{r['name']} ({r['country']}): {r['why']}", H3))
        story.append(_p(_("Waarborg: %(safeguards)s") % {"safeguards": r["safeguards"]}, SMALL))
    story.append(_p(_("Geautomatiseerde besluiten"), H2))
    story.append(_p(export["automated_decisions"]))
    story.append(_p(_("Wat we buiten onze klantadministratie bewaren"), H2))
    for h in export["held_outside_kluis"]:
        story.append(_p(h["label"], H3))
        story.append(_p(h["description"], SMALL))
        story.append(_p(_("Waar: %(where)s") % {"where": h["where"]}, SMALL))
        story.append(_p(_("Hoe lang: %(how_long)s") % {"how_long": h["how_long"]}, SMALL))
    story.append(_p(_("Aan wie we gegevens gaven"), H2))
    rows = [
        [
            long_date(d["at"]),
            d["recipient"],
            d["purpose"],
            ", ".join(d["categories"]),
            d["legal_basis"],
        ]
        for d in export["recipients"]
    ]
    story.append(
        _table(
            [_("Datum"), _("Ontvanger"), _("Doel"), _("Gegevens"), _("Grondslag")],
            rows,
            [22, 38, 38, 50, 26],
        )
        if rows
        else _p(_("We hebben geen gegevens van je aan anderen gegeven."))
    )
    story.append(_p(_("Wanneer medewerkers je gegevens inzagen"), H2))
    reveals = [
        [long_datetime(r["at"]), r["purpose"], r.get("case") or "—", ", ".join(r["categories"])]
        for r in export["staff_reveals"]
    ]
    story.append(
        _plain_table(
            [_("Wanneer"), _("Doel"), _("Waarvoor"), _("Gegevens")], reveals, [30, 44, 48, 52]
        )
        if reveals
        else _p(_("Geen medewerker heeft je gegevens ingezien."))
    )
    story.append(_p(_("Wat er in ons logboek over je staat"), H2))
    summary = [[a, str(n), long_date(f), long_date(la)] for a, n, f, la in activity_summary(export)]
    story.append(
        _plain_table(
            [_("Gebeurtenis"), _("Aantal"), _("Eerste"), _("Laatste")], summary, [80, 24, 35, 35]
        )
        if summary
        else _p(_("Er staat niets over je in ons logboek."))
    )
    story.append(Spacer(1, 4 * mm))
    story.append(_p(_("Je rechten"), H2))
    for right in export["rights"]:
        story.append(_p(f"{right['right']} ({right['article']})", H3))
        story.append(_p(right["how"], SMALL))
    story.append(
        _p(
            _(
                "Ben je het niet eens met hoe we met je gegevens omgaan, dan kun je een klacht "
                "indienen bij de %(authority)s (%(url)s)."
            )
            % export["complaint"]
        )
    )
    return story
