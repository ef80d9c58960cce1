"""An invoice or credit note as a PDF (ReportLab), in Dutch or English.

It shows every field art. 35a Wet OB asks for: date, sequential number, our VAT
number, the customer's VAT number when the VAT is shifted, both full names and
addresses, quantity and nature of the supply, its date, the net amount per rate, the
rate, the VAT amount and "btw verlegd" where it applies; and also our KvK number and
the betalingskenmerk. The PDF is deterministic (`invariant`). Values are escaped
before they go into a paragraph.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import override
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from kluis.billing.domains import line_texts
from kluis.billing.models import Invoice, InvoiceLine
from kluis.billing.payee import payee
from kluis.formats import euro as format_euro
from kluis.formats import long_date
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.policy.pdf import BODY, H3, LINE, SMALL, TITLE
from kluis.vault.fields import SealedValue


def euro(cents: int) -> str:
    return format_euro(cents)


def rate_text(rate_bp: int) -> str:
    return f"{rate_bp / 100:g}".replace(".", ",") + " %"


def kvk_number() -> str:
    return settings.KLUIS_KVK_NUMBER or current_policy().controller.kvk_number or ""


def vat_number() -> str:
    return settings.KLUIS_VAT_NUMBER or current_policy().controller.vat_number or ""


@dataclass(frozen=True)
class InvoiceFacts:
    """Everything the PDF prints; the sealed values already revealed for invoicing."""

    title: str
    number: str
    issue_date: str
    supply_date: str
    due_date: str
    corrects: str
    name: str
    company: str
    street: str
    postcode: str
    city: str
    country: str
    customer_number: str
    customer_vat: str
    lines: list[tuple[str, str, str, str]]  # description, quantity, unit price, net
    net: str
    rate: str
    vat: str
    total: str
    vat_note: str
    payment_reference: str
    # How to pay (empty on a credit note): what, by when, to whom.
    open_amount: str = ""
    # What credit notes took off it and what was paid, when anything (else "").
    credited_amount: str = ""
    paid_amount: str = ""
    payee_holder: str = ""
    payee_iban: str = ""
    payee_bic: str = ""
    supply_until: str = ""


def _with_period(text: str, line: InvoiceLine) -> str:
    """A line's text with the period it covers, unless the text names it already (a
    renewal's does; an order's line says "from delivery" and gets it once delivered)."""
    if line.period_start is None or line.period_end is None:
        return text
    start, end = long_date(line.period_start), long_date(line.period_end)
    if start in text and end in text:
        return text
    return text + "\n" + _("Periode: %(start)s t/m %(end)s") % {"start": start, "end": end}


def _open(value: SealedValue | None, actor: Actor) -> str:
    return value.reveal(purpose="invoicing", actor=actor) if value is not None else ""


def invoice_facts(invoice: Invoice, actor: Actor) -> InvoiceFacts:
    with override(invoice.language):
        notes: dict[str, str] = {
            Invoice.VatScheme.REVERSE_CHARGE: _("Btw verlegd (art. 44 en 196 btw-richtlijn)."),
            Invoice.VatScheme.OSS: _("Btw van %(country)s, aangegeven via de OSS-regeling.")
            % {"country": invoice.vat_country},
            Invoice.VatScheme.OUTSIDE_EU: _(
                "Dienst buiten de EU: geen Nederlandse btw (plaats van dienst bij de afnemer)."
            ),
        }
        title = _("Factuur") if invoice.kind == Invoice.Kind.INVOICE else _("Creditnota")
        to = payee()
        # How to pay is for an invoice that credit notes left something of; what is to
        # pay is what is left after them and after what was paid.
        payable = invoice.kind == Invoice.Kind.INVOICE and invoice.due_cents > 0
        # An order's lines get their period when it is delivered (billing/orders.py).
        period = invoice.service_period
        return InvoiceFacts(
            title=str(title),
            number=invoice.number,
            issue_date=long_date(invoice.issue_date),
            supply_date=long_date(period[0] if period else invoice.supply_date),
            due_date=long_date(invoice.due_date),
            corrects=invoice.corrects.number if invoice.corrects else "",
            name=_open(invoice.billing_name, actor),
            company=_open(invoice.billing_company, actor),
            street=_open(invoice.billing_street, actor),
            postcode=_open(invoice.billing_postcode, actor),
            city=_open(invoice.billing_city, actor),
            country=invoice.country,
            customer_number=invoice.customer.number,
            customer_vat=_open(invoice.billing_vat_number, actor),
            lines=[
                (
                    _with_period(text, line),
                    str(line.quantity),
                    euro(line.unit_cents),
                    euro(line.net_cents),
                )
                for line, text in line_texts(
                    list(invoice.lines.all()), purpose="invoicing", actor=actor
                )
            ],
            net=euro(invoice.net_cents),
            rate=rate_text(invoice.vat_rate_bp),
            vat=euro(invoice.vat_cents),
            total=euro(invoice.total_cents),
            vat_note=notes.get(invoice.vat_scheme, ""),
            payment_reference=invoice.payment_reference,
            open_amount=euro(max(invoice.open_cents, 0)) if payable else "",
            credited_amount=euro(invoice.credited_cents)
            if payable and invoice.credited_cents
            else "",
            paid_amount=euro(invoice.paid_cents) if payable and invoice.paid_cents else "",
            payee_holder=to.holder if payable else "",
            payee_iban=to.iban if payable else "",
            payee_bic=to.bic if payable else "",
            supply_until=long_date(period[1]) if period else "",
        )


def _p(text: str, style: object = BODY) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def render_invoice(facts: InvoiceFacts, language: str) -> bytes:
    controller = current_policy().controller
    out = io.BytesIO()
    with override(language):
        pdf = SimpleDocTemplate(
            out,
            pagesize=A4,
            leftMargin=20 * mm,
            rightMargin=20 * mm,
            topMargin=18 * mm,
            bottomMargin=18 * mm,
            title=f"{facts.title} {facts.number}",
            author=controller.trade_name,
            invariant=1,
            pageCompression=0,
        )
        supplier = "\n".join(
            [
                f"{controller.name} ({controller.trade_name})",
                controller.address.street,
                f"{controller.address.postcode} {controller.address.city}",
                controller.address.country,
                _("KvK-nummer: %(kvk)s") % {"kvk": kvk_number()},
                _("Btw-nummer: %(vat)s") % {"vat": vat_number()},
            ]
        )
        customer = "\n".join(
            part
            for part in [
                facts.company,
                facts.name,
                facts.street,
                f"{facts.postcode} {facts.city}".strip(),
                facts.country,
                _("Btw-nummer: %(vat)s") % {"vat": facts.customer_vat}
                if facts.customer_vat
                else "",
                _("Klantnummer: %(number)s") % {"number": facts.customer_number},
            ]
            if part
        )
        head = [
            [_p(_("Leverancier"), H3), _p(_("Klant"), H3)],
            [_p(supplier, SMALL), _p(customer, SMALL)],
        ]
        story: list[object] = [
            _p(facts.title, TITLE),
            Table(head, colWidths=[85 * mm, 85 * mm]),
            Spacer(1, 4 * mm),
            _p(_("Factuurnummer: %(number)s") % {"number": facts.number}),
            _p(_("Factuurdatum: %(date)s") % {"date": facts.issue_date}),
            _p(
                _("Leverperiode: %(start)s t/m %(end)s")
                % {"start": facts.supply_date, "end": facts.supply_until}
                if facts.supply_until
                else _("Leverdatum: %(date)s") % {"date": facts.supply_date}
            ),
        ]
        if facts.corrects:
            story.append(_p(_("Corrigeert factuur %(number)s") % {"number": facts.corrects}))
        rows = [[_p(h, SMALL) for h in (_("Omschrijving"), _("Aantal"), _("Prijs"), _("Bedrag"))]]
        rows += [[_p(cell, SMALL) for cell in line] for line in facts.lines]
        rows += [
            ["", "", _p(_("Totaal excl. btw"), SMALL), _p(facts.net, SMALL)],
            [
                "",
                "",
                _p(_("Btw %(rate)s") % {"rate": facts.rate}, SMALL),
                _p(facts.vat, SMALL),
            ],
            ["", "", _p(_("Totaal"), H3), _p(facts.total, H3)],
        ]
        table = Table(rows, colWidths=[95 * mm, 15 * mm, 30 * mm, 30 * mm])
        table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE)]))
        story += [Spacer(1, 3 * mm), table, Spacer(1, 3 * mm)]
        if facts.vat_note:
            story.append(_p(facts.vat_note, H3))
        if facts.payee_iban:
            how = [
                (_("Gecrediteerd"), facts.credited_amount),
                (_("Al betaald"), facts.paid_amount),
                (_("Te betalen"), facts.open_amount),
                (_("Uiterlijk op"), facts.due_date),
                (_("Ten name van"), facts.payee_holder),
                (_("IBAN"), facts.payee_iban),
                (_("BIC"), facts.payee_bic),
                (_("Betalingskenmerk"), facts.payment_reference),
            ]
            story += [
                _p(_("Zo betaal je"), H3),
                Table(
                    [[_p(label, SMALL), _p(value, SMALL)] for label, value in how if value],
                    colWidths=[40 * mm, 130 * mm],
                    hAlign="LEFT",
                ),
                _p(_("Vermeld bij je betaling alleen het betalingskenmerk.")),
            ]
        else:
            story.append(
                _p(
                    _("Betalingskenmerk: %(reference)s") % {"reference": facts.payment_reference},
                    H3,
                )
            )
        pdf.build(story)
    return out.getvalue()


def invoice_pdf(invoice: Invoice, actor: Actor) -> bytes:
    return render_invoice(invoice_facts(invoice, actor), invoice.language)
