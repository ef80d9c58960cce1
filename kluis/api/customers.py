"""The customer's API: invoices and their payments, sites and their allowlists.

Every operation reads and changes through the apps' own selectors and services, as
the portal does, with the token's customer as the actor: a customer's token finds
only that customer's objects (another's answer 404, as in the portal).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import Query, Router, Status
from pydantic import Field

from kluis.api.auth import caller_of, customer_of, guard
from kluis.api.idempotency import idempotent
from kluis.api.paging import page
from kluis.api.problems import Problem
from kluis.api.schemas import (
    ERRORS,
    AllowEntryIn,
    AllowEntryOut,
    CurrentAddressIn,
    GrantOut,
    InvoiceOut,
    InvoicePage,
    OrderOut,
    PageQuery,
    PayLinkOut,
    PaymentOut,
    SiteOut,
)
from kluis.billing.models import Chargeback, Invoice, Payment, Refund
from kluis.billing.online import pay_url
from kluis.billing.portal_views import invoice_pdf_response
from kluis.billing.selectors import customer_invoice, open_invoices
from kluis.domains import shop_link
from kluis.policy.enforce import Actor
from kluis.rights.export import build_export, export_shown
from kluis.shop.models import Order
from kluis.sites import services as sites_services
from kluis.sites.addresses import visitor_address
from kluis.sites.hosts import names_of
from kluis.sites.models import AllowEntry, Site, SupportGrant
from kluis.vault.reveal import reveal_many

router = Router(tags=["customer"])

INVOICES = guard("invoices:read")
SITES_READ = guard("sites:read")
ALLOWLIST = guard("sites:allowlist")


def _not_found() -> Problem:
    return Problem("not-found", _("Dit bestaat niet, of het is niet van jou."))


# --- invoices --------------------------------------------------------------------------


def invoice_out(invoice: Invoice, today: dt.date) -> dict[str, Any]:
    # The invoice's own figures (billing/models.py): credited when credit notes took all
    # of it off, paid when all that is owed is paid, open while something is left.
    if invoice.kind == Invoice.Kind.INVOICE and invoice.credited_at is not None:
        status = "credited"
    elif invoice.is_paid or invoice.kind == Invoice.Kind.CREDIT_NOTE:
        status = "paid"
    else:
        status = "open"
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "kind": invoice.kind,
        "status": status,
        "overdue": status == "open" and invoice.is_overdue(today),
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "net_cents": invoice.net_cents,
        "vat_cents": invoice.vat_cents,
        "total_cents": invoice.total_cents,
        "credited_cents": invoice.credited_cents,
        "paid_cents": invoice.paid_cents,
        "open_cents": max(invoice.open_cents, 0) if status == "open" else 0,
        "payment_reference": invoice.payment_reference,
        "corrects": invoice.corrects.number if invoice.corrects else None,
    }


class InvoiceFilter(PageQuery):
    status: Literal["open", "paid", "credited"] | None = Field(
        None, description="open: money still to come in; paid; credited: cancelled"
    )
    kind: Literal["invoice", "credit_note"] | None = None
    issued_from: dt.date | None = Field(None, description="issue date on or after")
    issued_until: dt.date | None = Field(None, description="issue date on or before")


@router.get(
    "/invoices",
    response={200: InvoicePage, **ERRORS},
    **INVOICES,
    summary="List your invoices, newest first",
    url_name="invoices",
)
def invoices(request: HttpRequest, filters: Query[InvoiceFilter]) -> dict[str, Any]:
    """Newest first by issue moment, then number: a stable order for the cursor."""
    queryset = Invoice.objects.for_customer(customer_of(request)).select_related("corrects")
    owed = F("total_cents") - F("credited_cents")
    if filters.status == "open":
        queryset = queryset & open_invoices()
    elif filters.status == "paid":
        queryset = queryset.filter(
            Q(kind="credit_note")
            | Q(credited_at__isnull=True, total_cents__gt=F("credited_cents"), paid_cents__gte=owed)
        )
    elif filters.status == "credited":
        queryset = queryset.filter(kind="invoice", credited_at__isnull=False)
    if filters.kind:
        queryset = queryset.filter(kind=filters.kind)
    if filters.issued_from:
        queryset = queryset.filter(issue_date__gte=filters.issued_from)
    if filters.issued_until:
        queryset = queryset.filter(issue_date__lte=filters.issued_until)
    rows, cursor = page(
        queryset,
        first="issued_at",
        second="number",
        descending=True,
        cursor=filters.cursor,
        limit=filters.limit,
        parse=dt.datetime.fromisoformat,
    )
    today = timezone.localdate()
    return {"items": [invoice_out(i, today) for i in rows], "next_cursor": cursor}


def _invoice(request: HttpRequest, invoice_id: uuid.UUID) -> Invoice:
    invoice = customer_invoice(customer_of(request), invoice_id)
    if invoice is None:
        raise _not_found()
    return invoice


@router.get(
    "/invoices/{invoice_id}", response={200: InvoiceOut, **ERRORS}, **INVOICES, url_name="invoice"
)
def invoice(request: HttpRequest, invoice_id: uuid.UUID) -> dict[str, Any]:
    return invoice_out(_invoice(request, invoice_id), timezone.localdate())


@router.get(
    "/invoices/{invoice_id}/pdf",
    response={200: None, **ERRORS},
    **guard(
        "invoices:read",
        extra={
            "responses": {
                200: {
                    "description": "the invoice as PDF",
                    "content": {
                        "application/pdf": {"schema": {"type": "string", "format": "binary"}}
                    },
                }
            }
        },
    ),
    url_name="invoice-pdf",
)
def invoice_pdf_download(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    return invoice_pdf_response(_invoice(request, invoice_id))


@router.get(
    "/invoices/{invoice_id}/payments",
    response={200: list[PaymentOut], **ERRORS},
    **INVOICES,
    url_name="invoice-payments",
)
def invoice_payments(request: HttpRequest, invoice_id: uuid.UUID) -> list[dict[str, Any]]:
    found = _invoice(request, invoice_id)
    return _money_rows(found.payments.all(), found.refunds.all())


def _money_rows(payments: Any, refunds: Any) -> list[dict[str, Any]]:
    """Payments received, each followed by what the payer's bank took back of it (a
    chargeback, negative) and a withdrawn chargeback (positive again), then refunds,
    each oldest first; plain columns only (the payer's IBAN and name stay sealed, as on
    the portal's invoice page)."""
    received = list(payments.select_related("invoice").order_by("booking_date", "pk"))
    taken_back: dict[uuid.UUID, list[Chargeback]] = {}
    for chargeback in Chargeback.objects.filter(payment__in=[p.pk for p in received]).order_by(
        "received_at", "pk"
    ):
        taken_back.setdefault(chargeback.payment_id, []).append(chargeback)
    rows: list[dict[str, Any]] = []
    for p in received:
        rows.append(
            {
                "date": p.booking_date,
                "amount_cents": p.amount_cents,
                "kind": "payment",
                "status": "received",
                "invoice": p.invoice.number,
            }
        )
        for c in taken_back.get(p.pk, []):
            rows.append(
                {
                    "date": timezone.localdate(c.received_at),
                    "amount_cents": -c.amount_cents,
                    "kind": "chargeback",
                    "status": c.status,
                    "invoice": p.invoice.number,
                }
            )
            if c.reversed_at is not None:
                rows.append(
                    {
                        "date": timezone.localdate(c.reversed_at),
                        "amount_cents": c.amount_cents,
                        "kind": "chargeback_reversal",
                        "status": "received",
                        "invoice": p.invoice.number,
                    }
                )
    rows += [
        {
            "date": r.created_at.date(),
            "amount_cents": r.amount_cents,
            "kind": "refund",
            "status": r.status,
            "invoice": r.invoice.number,
        }
        for r in refunds.select_related("invoice").order_by("created_at", "pk")
    ]
    return rows


@router.get(
    "/payments",
    response={200: list[PaymentOut], **ERRORS},
    **INVOICES,
    url_name="payments",
    summary="Every payment on your invoices with its chargebacks, and every refund, oldest first",
)
def payments(request: HttpRequest) -> list[dict[str, Any]]:
    mine = Invoice.objects.for_customer(customer_of(request))
    return _money_rows(
        Payment.objects.filter(invoice__in=mine), Refund.objects.filter(invoice__in=mine)
    )


@router.get(
    "/invoices/{invoice_id}/pay-link",
    response={200: PayLinkOut, **ERRORS},
    **INVOICES,
    url_name="invoice-pay-link",
)
def invoice_pay_link(request: HttpRequest, invoice_id: uuid.UUID) -> dict[str, Any]:
    """The signed link of the invoice mail, for an invoice that is still open."""
    from django.conf import settings

    found = _invoice(request, invoice_id)
    if not found.is_payable:
        raise Problem("refused", _("Deze factuur staat niet meer open."))
    return {"url": pay_url(found), "valid_days": settings.KLUIS_IDEAL_LINK_DAYS}


# --- sites and their allowlists ----------------------------------------------------------


def _site(request: HttpRequest, site_id: int) -> Site:
    site = Site.objects.filter(pk=site_id, customer=customer_of(request)).first()
    if site is None:
        raise _not_found()
    return site


@router.get("/sites", response={200: list[SiteOut], **ERRORS}, **SITES_READ, url_name="sites")
def sites(request: HttpRequest) -> list[dict[str, Any]]:
    customer = customer_of(request)
    mine = list(Site.objects.filter(customer=customer).order_by("pk"))
    names = names_of(mine, actor=Actor.subject(customer.pk))
    return [
        {"id": s.pk, "kind": s.kind, "status": s.status, "host_names": names[s.pk].hosts}
        for s in mine
    ]


def _entries_out(site: Site, entries: list[AllowEntry]) -> list[dict[str, Any]]:
    plain = reveal_many(
        entries, ["network"], purpose="admin_access", actor=Actor.subject(site.customer_id)
    )
    return [
        {
            "id": e.pk,
            "network": p["network"],
            "label": e.label,
            "expires_at": e.expires_at,
            "support_grant": e.grant_id is not None,
        }
        for e, p in zip(entries, plain, strict=True)
    ]


@router.get(
    "/sites/{site_id}/allowlist",
    response={200: list[AllowEntryOut], **ERRORS},
    **SITES_READ,
    url_name="site-allowlist",
)
def site_allowlist(request: HttpRequest, site_id: int) -> list[dict[str, Any]]:
    site = _site(request, site_id)
    return _entries_out(site, list(site.allow_entries.current().order_by("created_at", "pk")))


def _add(request: HttpRequest, site: Site, text: str, label: str, expires: Any) -> dict[str, Any]:
    try:
        entry = sites_services.entry_add(
            site=site, text=text, label=label, expires_at=expires, by=caller_of(request).user
        )
    except ValidationError as exc:
        raise Problem("refused", " ".join(str(m) for m in exc.messages)) from None
    except sites_services.SitesError as exc:
        raise Problem("refused", exc.message) from None
    return {"entry": str(entry.pk)}


def _added(site: Site, result: dict[str, Any], replayed: bool) -> Status[Any]:
    entry = AllowEntry.objects.filter(pk=result["entry"], site=site).first()
    if entry is None:  # removed since the first request
        raise Problem("not-found", _("Dit adres staat niet meer op de lijst."))
    return Status(200 if replayed else 201, _entries_out(site, [entry])[0])


@router.post(
    "/sites/{site_id}/allowlist",
    response={201: AllowEntryOut, 200: AllowEntryOut, **ERRORS},
    **ALLOWLIST,
    url_name="site-allowlist-add",
    summary="Add an address or range to the site's admin allowlist",
)
def site_allowlist_add(request: HttpRequest, site_id: int, body: AllowEntryIn) -> Status[Any]:
    site = _site(request, site_id)
    result, replayed = idempotent(
        request,
        caller_of(request),
        lambda: _add(request, site, body.network, body.label, body.expires_at),
    )
    return _added(site, result, replayed)


@router.post(
    "/sites/{site_id}/allowlist/current",
    response={201: AllowEntryOut, 200: AllowEntryOut, **ERRORS},
    **ALLOWLIST,
    url_name="site-allowlist-add-current",
    summary="Add the address this request comes from",
)
def site_allowlist_add_current(
    request: HttpRequest, site_id: int, body: CurrentAddressIn
) -> Status[Any]:
    """The address as the portal sees it: the client, or behind a trusted proxy the
    right-most forwarded hop that is not one."""
    site = _site(request, site_id)
    address = visitor_address(request)
    if address is None:
        raise Problem("refused", _("We kunnen niet zien van welk adres je komt."))
    result, replayed = idempotent(
        request,
        caller_of(request),
        lambda: _add(request, site, str(address), body.label, body.expires_at),
    )
    return _added(site, result, replayed)


@router.delete(
    "/sites/{site_id}/allowlist/{entry_id}",
    response={204: None, **ERRORS},
    **ALLOWLIST,
    url_name="site-allowlist-remove",
)
def site_allowlist_remove(request: HttpRequest, site_id: int, entry_id: uuid.UUID) -> Status[Any]:
    site = _site(request, site_id)
    entry = AllowEntry.objects.select_related("site").filter(pk=entry_id, site=site).first()
    if entry is None:
        raise _not_found()
    try:
        sites_services.entry_remove(entry=entry, by=caller_of(request).user)
    except sites_services.SitesError as exc:
        raise Problem("refused", exc.message) from None
    return Status(204, None)


# --- orders and "my data" ----------------------------------------------------------------


@router.get(
    "/orders",
    response={200: list[OrderOut], **ERRORS},
    **guard("orders:read"),
    url_name="orders",
    summary="Your orders, newest first",
)
def orders(request: HttpRequest) -> list[dict[str, Any]]:
    rows = list(
        Order.objects.for_customer(customer_of(request))
        .order_by("-created_at", "-number")
        .prefetch_related("lines")
    )
    return orders_out(request, rows)


def orders_out(request: HttpRequest, rows: list[Order]) -> list[dict[str, Any]]:
    """Orders with their lines; a domain line by its name as the customer wrote it,
    revealed as on the portal's order pages (the line itself holds only a mark)."""
    lines = {o.pk: sorted(o.lines.all(), key=lambda line: line.position) for o in rows}
    domains = [line for kept in lines.values() for line in kept if line.domain_name_id]
    shown = shop_link.domains_shown(
        domains, purpose="contract_administration", actor=caller_of(request).actor
    )
    names = {line.pk: name for line, name in zip(domains, shown, strict=True)}
    return [
        {
            "id": o.pk,
            "number": o.number,
            "status": o.status,
            "total_cents": o.total_cents,
            "created_at": o.created_at,
            "lines": [
                {"kind": line.kind, "description": names.get(line.pk, line.description)}
                for line in lines[o.pk]
            ],
        }
        for o in rows
    ]


@router.get(
    "/my-data",
    response={200: dict[str, Any], **ERRORS},
    **guard("account:read"),
    url_name="my-data",
    summary="Everything kluis holds about you, as the access export (art. 15 and 20 GDPR)",
)
def my_data(request: HttpRequest) -> dict[str, Any]:
    """The same parts as "Mijn gegevens" and the access export, read by yourself."""
    customer = customer_of(request)
    # The files the customer gave are named by path, their bytes are in the portal's zip.
    return export_shown(
        build_export(
            subject=customer.pk,
            actor=caller_of(request).actor,
            language=get_language() or customer.language,
        )
    )


# --- support's access to your sites ------------------------------------------------------


def _grant_out(grant: SupportGrant, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": grant.pk,
        "site": grant.site_id,
        "staff": grant.staff.staff_label,
        "reason": grant.reason,
        "note": grant.note,
        "starts_at": grant.starts_at,
        "ends_at": grant.ends_at,
        "ended_at": grant.ended_at,
        "ended_by": grant.ended_by,
        "running": grant.is_running(now),
    }


@router.get(
    "/support-grants",
    response={200: list[GrantOut], **ERRORS},
    **SITES_READ,
    url_name="support-grants",
    summary="Every time-boxed access support had or has to your sites",
)
def support_grants(request: HttpRequest) -> list[dict[str, Any]]:
    now = timezone.now()
    rows = SupportGrant.objects.filter(site__customer=customer_of(request)).select_related("staff")
    return [_grant_out(g, now) for g in rows]


@router.post(
    "/support-grants/{grant_id}/end",
    response={200: GrantOut, **ERRORS},
    **ALLOWLIST,
    url_name="support-grant-end",
    summary="End support's running access at once (its address leaves the allowlist)",
)
def support_grant_end(request: HttpRequest, grant_id: int) -> dict[str, Any]:
    grant = (
        SupportGrant.objects.filter(pk=grant_id, site__customer=customer_of(request))
        .select_related("site", "staff")
        .first()
    )
    if grant is None:
        raise _not_found()
    try:
        sites_services.grant_end(grant=grant, by=caller_of(request).user)
    except sites_services.SitesError as exc:
        raise Problem("refused", exc.message) from None
    return _grant_out(grant, timezone.now())
