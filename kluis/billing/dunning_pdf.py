"""The statutory 14-day letter and the collector's hand-over sheet as PDFs (ReportLab).

Both follow kluis/billing/pdf.py: deterministic bytes (`invariant`), values escaped
before they go into a paragraph, Dutch or English. Personal values are revealed for
the collections purpose by whoever asks: the mail worker, the customer, or finance.
"""

from __future__ import annotations

import datetime as dt
import io
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import override
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from kluis.billing.dunning import PURPOSE, HandoverRow, handover_columns, handover_row
from kluis.billing.models import CollectionHandover, Reminder
from kluis.billing.pdf import euro, kvk_number
from kluis.formats import long_date
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.policy.pdf import BODY, H3, LINE, SMALL, TITLE
from kluis.vault.fields import SealedValue


def _p(text: str, style: object = BODY) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _date(day: dt.date) -> str:
    return long_date(day)


def _document(out: io.BytesIO, title: str) -> SimpleDocTemplate:
    return SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=title,
        author=current_policy().controller.trade_name,
        invariant=1,
        pageCompression=0,
    )


def _supplier() -> str:
    controller = current_policy().controller
    return "\n".join(
        [
            f"{controller.name} ({controller.trade_name})",
            controller.address.street,
            f"{controller.address.postcode} {controller.address.city}",
            controller.address.country,
            _("KvK-nummer: %(kvk)s") % {"kvk": kvk_number()},
        ]
    )


def _open(value: SealedValue | None, actor: Actor) -> str:
    return value.reveal(purpose=PURPOSE, actor=actor) if value is not None else ""


def statutory_letter_pdf(reminder: Reminder, actor: Actor) -> bytes:
    """The written reminder of art. 6:96 lid 6 BW, as sent with the statutory letter mail."""
    invoice = reminder.invoice
    customer = invoice.customer
    addressee = "\n".join(
        part
        for part in (
            _open(customer.name, actor),
            _open(customer.address_street, actor),
            f"{_open(customer.address_postcode, actor)} {_open(customer.address_city, actor)}",
            customer.country,
        )
        if part.strip()
    )
    out = io.BytesIO()
    with override(invoice.language):
        title = _("Aanmaning")
        facts = {
            "number": invoice.number,
            "issue_date": _date(invoice.issue_date),
            "due_date": _date(invoice.due_date),
            "open": euro(reminder.open_cents),
            "pay_by": _date(reminder.pay_by),
            "iban": settings.KLUIS_IBAN,
            "reference": invoice.payment_reference,
            "costs": euro(reminder.costs_cents),
        }
        story: list[object] = [
            _p(str(title), TITLE),
            Table(
                [
                    [_p(_("Van"), H3), _p(_("Aan"), H3)],
                    [_p(_supplier(), SMALL), _p(addressee, SMALL)],
                ],
                colWidths=[85 * mm, 85 * mm],
            ),
            Spacer(1, 4 * mm),
            _p(_("Datum: %(date)s") % {"date": _date(reminder.sent_on)}),
            _p(
                _("Betreft: factuur %(number)s van %(issue_date)s, te betalen vóór %(due_date)s")
                % facts,
                H3,
            ),
            _p(_("We hebben het bedrag van %(open)s van deze factuur nog niet ontvangen.") % facts),
            _p(
                _(
                    "Je krijgt veertien dagen om te betalen, gerekend vanaf de dag na ontvangst "
                    "van deze brief. Betaal %(open)s uiterlijk op %(pay_by)s op rekening "
                    "%(iban)s onder vermelding van betalingskenmerk %(reference)s."
                )
                % facts,
                H3,
            ),
            _p(
                _(
                    "Betaal je niet binnen deze termijn, dan ben je daarnaast "
                    "buitengerechtelijke incassokosten verschuldigd van %(costs)s, berekend "
                    "volgens het Besluit vergoeding voor buitengerechtelijke incassokosten "
                    "(art. 6:96 BW), en kunnen we de factuur overdragen aan een incassobureau "
                    "of gerechtsdeurwaarder."
                )
                % facts
            ),
            _p(_("Heb je inmiddels betaald, dan kun je deze brief als niet verzonden beschouwen.")),
        ]
        _document(out, f"{title} {invoice.number}").build(story)
    return out.getvalue()


def handover_pdf(
    handover: CollectionHandover, actor: Actor, *, row: HandoverRow | None = None
) -> bytes:
    """The collector's sheet: the same fields as the CSV, nothing more."""
    row = row or handover_row(handover, actor)
    out = io.BytesIO()
    with override(handover.language):
        title = _("Overdracht ter incasso")
        values = [
            row.name,
            row.organisation,
            row.street,
            row.postcode,
            row.city,
            row.country,
            row.phone,
            row.email,
            row.invoice_number,
            _date(row.invoice_date),
            _date(row.due_date),
            euro(row.open_cents),
            euro(row.costs_cents),
        ]
        table = Table(
            [
                [_p(label, SMALL), _p(value, SMALL)]
                for label, value in zip(handover_columns(), values, strict=True)
            ],
            colWidths=[55 * mm, 115 * mm],
        )
        table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE)]))
        story: list[object] = [
            _p(str(title), TITLE),
            _p(_("Opdrachtgever"), H3),
            _p(_supplier(), SMALL),
            Spacer(1, 4 * mm),
            table,
        ]
        _document(out, f"{title} {row.invoice_number}").build(story)
    return out.getvalue()
