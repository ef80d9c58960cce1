"""Staff's API: finance's read views, the orders desk's moves, and the reveal of a
customer's sealed value for a declared purpose (and case), as on the back office's
customer page. A staff token acts with its owner's roles at the moment of use.

Every operation calls the back office's own forms, selectors and services
(`kluis.shop.services.order_move`, `kluis.accounts.selectors.customer_value_reveal`)
with the token's owner as the actor: the vault decides and audits a reveal, a
refusal included.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from kluis.accounts import selectors as account_selectors
from kluis.accounts.backoffice_views import CUSTOMER_ROLES
from kluis.accounts.forms import RevealForm
from kluis.api.auth import caller_of, guard
from kluis.api.idempotency import idempotent
from kluis.api.paging import page
from kluis.api.problems import Problem, form_problem
from kluis.api.schemas import ERRORS, Input, OpenInvoicePage, PageQuery
from kluis.billing.selectors import open_invoices
from kluis.shop import selectors as shop_selectors
from kluis.shop import services as shop_services
from kluis.shop.backoffice_views import MOVE_REFUSED, ORDER_ROLES, _move_form
from kluis.shop.models import Order
from kluis.vault.errors import RevealRefused

router = Router(tags=["staff"])


class OpenFilter(PageQuery):
    overdue: bool | None = Field(None, description="only overdue (true) or not yet due (false)")


@router.get(
    "/finance/open-invoices",
    response={200: OpenInvoicePage, **ERRORS},
    **guard("finance:read", roles=frozenset({"finance"})),
    url_name="staff-open-invoices",
    summary="Invoices with money still to come in, oldest due date first (finance)",
)
def open_invoices_list(request: HttpRequest, filters: Query[OpenFilter]) -> dict[str, Any]:
    today = timezone.localdate()
    queryset = open_invoices().select_related("customer")
    if filters.overdue is True:
        queryset = queryset.filter(due_date__lt=today)
    elif filters.overdue is False:
        queryset = queryset.filter(due_date__gte=today)
    rows, cursor = page(
        queryset,
        first="due_date",
        second="number",
        descending=False,
        cursor=filters.cursor,
        limit=filters.limit,
        parse=dt.date.fromisoformat,
    )
    return {
        "items": [
            {
                "id": i.pk,
                "number": i.number,
                "customer_number": i.customer.number,
                "due_date": i.due_date,
                "total_cents": i.total_cents,
                "open_cents": i.open_cents,
                "overdue": i.is_overdue(today),
            }
            for i in rows
        ],
        "next_cursor": cursor,
    }


# --- the orders desk ---------------------------------------------------------------------

DESK = guard("orders:desk", roles=frozenset(ORDER_ROLES))
OrderStatus = Literal[
    "received", "awaiting_payment", "paid", "in_progress", "delivered", "cancelled", "withdrawn"
]


class DeskOrderOut(Schema):
    id: uuid.UUID
    number: str
    customer_number: str
    status: OrderStatus
    next_statuses: list[OrderStatus] = Field(description="the moves the desk may make now")
    total_cents: int
    created_at: dt.datetime


class MoveIn(Input):
    status: OrderStatus = Field(description="one of the order's next_statuses")


def _desk_order(order_id: uuid.UUID) -> Order:
    found = shop_selectors.order_for_staff(order_id)
    if found is None:
        raise Problem("not-found")
    return found


def _desk_out(order: Order) -> dict[str, Any]:
    return {
        "id": order.pk,
        "number": order.number,
        "customer_number": order.customer.number,
        "status": order.status,
        "next_statuses": order.next_statuses,
        "total_cents": order.total_cents,
        "created_at": order.created_at,
    }


class DeskOrderPage(Schema):
    items: list[DeskOrderOut]
    next_cursor: str | None = None


class DeskFilter(PageQuery):
    status: OrderStatus | None = Field(None, description="only orders in this status")


@router.get(
    "/orders",
    response={200: DeskOrderPage, **ERRORS},
    **DESK,
    url_name="staff-orders",
    summary="The orders desk's list, newest first, by status (orders)",
)
def desk_orders(request: HttpRequest, filters: Query[DeskFilter]) -> dict[str, Any]:
    """As the back office's order list: numbers and statuses, no personal data."""
    queryset = Order.objects.select_related("customer")
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    rows, cursor = page(
        queryset,
        first="created_at",
        second="number",
        descending=True,
        cursor=filters.cursor,
        limit=filters.limit,
        parse=dt.datetime.fromisoformat,
    )
    return {"items": [_desk_out(o) for o in rows], "next_cursor": cursor}


@router.get(
    "/orders/{order_id}",
    response={200: DeskOrderOut, **ERRORS},
    **DESK,
    url_name="staff-order",
    summary="An order's status and the moves the desk may make (orders)",
)
def desk_order(request: HttpRequest, order_id: uuid.UUID) -> dict[str, Any]:
    return _desk_out(_desk_order(order_id))


@router.post(
    "/orders/{order_id}/move",
    response={200: DeskOrderOut, **ERRORS},
    **DESK,
    url_name="staff-order-move",
    summary="Move an order to its next status, as the back office's order page (orders)",
)
def desk_order_move(request: HttpRequest, order_id: uuid.UUID, body: MoveIn) -> dict[str, Any]:
    """The customer gets the same mail as after the page's move. With an
    Idempotency-Key a retry does not move twice."""
    caller = caller_of(request)
    found = _desk_order(order_id)

    def make() -> dict[str, Any]:
        form = _move_form(found, {"status": body.status})
        if not form.is_valid():
            raise Problem("refused", MOVE_REFUSED["illegal_move"])
        try:
            shop_services.order_move(order=found, to=form.cleaned_data["status"], by=caller.user)
        except shop_services.ShopError as exc:
            raise Problem(
                "refused", MOVE_REFUSED.get(exc.code, MOVE_REFUSED["illegal_move"])
            ) from None
        return {"order": str(found.pk)}

    idempotent(request, caller, make)
    return _desk_out(_desk_order(order_id))


# --- a customer's sealed value, revealed for a purpose -----------------------------------


class RevealIn(Input):
    field: str = Field(max_length=60, description="the sealed field, such as email or phone")
    purpose: str = Field(
        min_length=1, max_length=60, description="a purpose of the policy that uses this field"
    )
    case: str | None = Field(
        None,
        max_length=120,
        description="the customer's open case the look serves (order:…, ticket:…), for "
        "purposes that need one",
    )


class RevealOut(Schema):
    field: str
    value: str = Field(description="the plain value; empty when the field holds none")
    purpose: str
    case: str | None


@router.post(
    "/customers/{customer_id}/reveal",
    response={200: RevealOut, **ERRORS},
    **guard("customers:reveal", roles=frozenset(CUSTOMER_ROLES)),
    url_name="staff-customer-reveal",
    summary="One sealed value of a customer, for a declared purpose and case (audited)",
)
def customer_reveal(request: HttpRequest, customer_id: uuid.UUID, body: RevealIn) -> Status[Any]:
    """As the back office's reveal form: the form checks the field, the purpose and the
    case's shape; the vault decides whether this staff member's roles, the purpose and
    the case allow it, and audits the look or its refusal."""
    customer = account_selectors.customer_for_staff(customer_id)
    if customer is None:
        raise Problem("not-found")
    form = RevealForm({"field": body.field, "purpose": body.purpose, "case": body.case or ""})
    if not form.is_valid():
        raise form_problem(form)
    try:
        value = account_selectors.customer_value_reveal(
            customer=customer, actor=caller_of(request).actor, **form.cleaned_data
        )
    except RevealRefused as refusal:
        raise Problem("forbidden", _("Niet toegestaan: %(reason)s") % {"reason": refusal}) from None
    case = form.cleaned_data["case"]
    return Status(
        200,
        {
            "field": body.field,
            "value": value,
            "purpose": body.purpose,
            "case": str(case) if case else None,
        },
    )
