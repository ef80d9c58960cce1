"""Staff's API: finance's read views. A staff token acts with its owner's roles now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router
from pydantic import Field

from kluis.api.auth import guard
from kluis.api.paging import page
from kluis.api.schemas import ERRORS, OpenInvoicePage, PageQuery
from kluis.billing.selectors import open_invoices

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
