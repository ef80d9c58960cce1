"""What the API reads and answers. Every input refuses unknown fields."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from ninja import Schema
from pydantic import AwareDatetime, ConfigDict, Field


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


class PageQuery(Schema):
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the page before")
    limit: int = Field(50, ge=1, le=100)


class FieldError(Schema):
    location: str = Field(description="body, query, path or header")
    field: str
    code: str
    message: str


class DocumentOut(Schema):
    kind: Literal[
        "agreement", "processor_agreement", "whois_notice", "withdrawal_info", "start_request"
    ]
    title: str
    version: str
    language: Literal["nl", "en"]
    sha256: str = Field(description="SHA-256 of `text`, as UTF-8: name it in `accept`")
    url: str = Field(description="the same text as a page")
    text: str


class ProblemOut(Schema):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None
    documents: list[DocumentOut] | None = Field(
        None, description="POST /orders: the documents to accept, when it names others"
    )


# The problems any operation may answer with (application/problem+json).
ERRORS: dict[int, type[ProblemOut]] = {
    code: ProblemOut for code in (400, 401, 403, 404, 409, 413, 422, 429)
}


class InvoiceOut(Schema):
    id: uuid.UUID
    number: str
    kind: Literal["invoice", "credit_note"]
    status: Literal["open", "paid", "credited"]
    overdue: bool
    issue_date: dt.date
    due_date: dt.date
    currency: Literal["EUR"] = "EUR"
    net_cents: int
    vat_cents: int
    total_cents: int
    credited_cents: int = Field(description="what credit notes took off it")
    paid_cents: int
    open_cents: int
    payment_reference: str
    corrects: str | None = Field(None, description="the invoice a credit note corrects")


class InvoicePage(Schema):
    items: list[InvoiceOut]
    next_cursor: str | None = Field(
        None, description="pass as `cursor` for the next page; absent on the last page"
    )


class PaymentOut(Schema):
    date: dt.date
    amount_cents: int
    kind: Literal["payment", "chargeback", "chargeback_reversal", "refund"] = Field(
        description="a payment; what the payer's bank took back of the payment before it "
        "(`chargeback`, a negative amount); that chargeback withdrawn by the bank "
        "(`chargeback_reversal`, positive again); a refund"
    )
    status: str = Field(
        description="`received` for a payment and a withdrawn chargeback; a chargeback's "
        "status (`received`, or `reversed` once withdrawn); a refund's status"
    )
    invoice: str = Field(description="the invoice's number")


class PayLinkOut(Schema):
    url: str
    valid_days: int


class SiteOut(Schema):
    id: int
    kind: Literal["webshop", "website"]
    status: Literal["setup", "live", "suspended", "ended"]
    host_names: list[str]


class AllowEntryOut(Schema):
    id: uuid.UUID
    network: str | None = Field(description="address or range; null once erased")
    label: str
    expires_at: dt.datetime | None
    support_grant: bool = Field(description="added by a support grant; ends with it")


class AllowEntryIn(Input):
    network: str = Field(max_length=64, description="IPv4/IPv6 address or range")
    label: str = Field("", max_length=80)
    expires_at: AwareDatetime | None = None


class CurrentAddressIn(Input):
    label: str = Field("", max_length=80)
    expires_at: AwareDatetime | None = None


class FirewallSite(Schema):
    site: int
    elements: list[str] = Field(description="addresses and merged ranges, IPv4 first")
    admin_port: int | None = Field(
        None,
        description="the TCP port of the site's admin, to be closed to every address not "
        "in `elements` (the exported ruleset's chain does so); null for an admin behind "
        "the shared port 443, closed per site in nginx",
    )


class FirewallOut(Schema):
    version: str = Field(description="the same value as the ETag header, unquoted")
    node: str | None = Field(
        None,
        description="the hosting node the token is bound to, whose sites these are; null: "
        "a token bound to no node, answered with the sites placed on no node",
    )
    sites: list[FirewallSite]


class LogBatchIn(Input):
    batch_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="the node's own id of this batch; a replay counts nothing twice",
    )
    kind: Literal["nginx", "postfix"] = Field(
        description="nginx: `log_format kluis` (JSON) or combined with a trailing host; "
        "postfix: syslog lines of the Postfix daemons"
    )
    lines: list[str] = Field(max_length=10_000, description="the log lines, in order")


class LogBatchOut(Schema):
    accepted: int = Field(description="lines counted")
    skipped: int = Field(
        description=(
            "lines that did not parse or name no known site or mailbox (for a token "
            "bound to a hosting node: no site of that node)"
        )
    )
    replayed: bool = Field(description="true when this batch was taken before: nothing counted")


class OpenInvoiceOut(Schema):
    id: uuid.UUID
    number: str
    customer_number: str
    due_date: dt.date
    total_cents: int
    open_cents: int
    overdue: bool


class OpenInvoicePage(Schema):
    items: list[OpenInvoiceOut]
    next_cursor: str | None = None


class OrderLineOut(Schema):
    kind: str
    description: str


class OrderOut(Schema):
    id: uuid.UUID
    number: str
    status: Literal[
        "received", "awaiting_payment", "paid", "in_progress", "delivered", "cancelled", "withdrawn"
    ]
    total_cents: int
    created_at: dt.datetime
    lines: list[OrderLineOut]


class GrantOut(Schema):
    id: int
    site: int
    staff: str = Field(description="the staff member's working name and roles")
    reason: Literal["help_request", "update"]
    note: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    ended_at: dt.datetime | None
    ended_by: str
    running: bool
