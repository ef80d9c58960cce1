"""The billing part of `make run`: three demo orders with invoices, and a bank statement.

What it leaves behind is the start of the finance walk-through in the README:

- an invoice for Sanne de Vries and one for Bakkerij Bakker, issued today through the
  order flow (an order moved to "awaiting payment" by the orders desk);
- an invoice for Fatima El Amrani issued four months ago, with the daily dunning job
  run for every day since, so her reminders and the statutory 14-day letter went out
  and the invoice is now eligible for a collections hand-over;
- var/demo/afschrift-demo.xml, a CAMT.053 statement of our account that pays Sanne's
  invoice by its betalingskenmerk and overpays Bakkerij Bakker's by EUR 25.00 with
  the invoice number in the description, and leaves Fatima's unpaid.

Nothing here imports the statement or decides anything: finance does that in the
back office, as they would with a real statement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.db import transaction
from django.utils import timezone

from kluis.accounts.models import Customer, User
from kluis.billing import services
from kluis.billing.camt_write import Tx, statement_xml
from kluis.billing.dunning import dunning_run
from kluis.billing.models import Invoice
from kluis.billing.rates import vat_rates_load
from kluis.shop.cart import cart_add_product, cart_get
from kluis.shop.models import Order
from kluis.shop.services import order_move, order_place

OVERPAID_CENTS = 2500
OVERDUE_DAYS = 120

# Who pays, from which account, in the demo statement.
PAYERS = {
    "K000001": ("S. de Vries", "NL02ABNA0123456789"),
    "K000002": ("Bakkerij Bakker VOF", "NL20INGB0001234567"),
}


@dataclass(frozen=True)
class DemoBilling:
    paid: Invoice
    overpaid: Invoice
    unpaid: Invoice
    statement: Path


def _order(customer: Customer, product: str) -> Order:
    """A real checkout of one catalogue product, as the customer would place it."""
    session = SessionStore()
    cart_add_product(session, product)
    return order_place(
        cart=cart_get(session),
        customer=customer,
        new_customer=None,
        language=customer.language,
        notes="",
        accepted=True,
        non_eu_consent=False,
        vat=None,
        kvk=None,
        client_address="127.0.0.1",
    )


def _euro(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def statement_for(paid: Invoice, overpaid: Invoice, *, today: dt.date) -> str:
    """The demo statement: one exact payment by reference, one overpayment by number."""
    paid_name, paid_iban = PAYERS["K000001"]
    over_name, over_iban = PAYERS["K000002"]
    stamp = today.strftime("%Y%m%d")
    return statement_xml(
        [
            Tx(
                f"DEMO-{stamp}-1",
                _euro(paid.total_cents),
                name=paid_name,
                iban=paid_iban,
                kenmerk=paid.payment_reference,
                booked=today.isoformat(),
            ),
            Tx(
                f"DEMO-{stamp}-2",
                _euro(overpaid.total_cents + OVERPAID_CENTS),
                name=over_name,
                iban=over_iban,
                text=f"Factuur {overpaid.number} webwinkel",
                booked=today.isoformat(),
            ),
        ],
        iban=settings.KLUIS_IBAN,
        message_id=f"KLUIS-DEMO-{stamp}",
        created=f"{today.isoformat()}T06:00:00",
    )


def billing_demo_load(*, orders_desk: User, directory: Path) -> DemoBilling:
    vat_rates_load()
    today = timezone.localdate()
    customers = {
        c.number: c for c in Customer.objects.filter(number__in=PAYERS.keys() | {"K000005"})
    }
    with transaction.atomic():
        # The oldest first, so invoice numbers follow the issue dates.
        old_order = _order(customers["K000005"], "website-zakelijk")
        issued_on = today - dt.timedelta(days=OVERDUE_DAYS)
        unpaid = services.invoice_issue(
            order=old_order, issued_by=orders_desk, issue_date=issued_on
        )
        order_move(order=old_order, to=Order.Status.AWAITING_PAYMENT, by=orders_desk)
        then = timezone.make_aware(dt.datetime.combine(issued_on, dt.time(10)))
        Order.objects.filter(pk=old_order.pk).update(created_at=then, status_changed_at=then)
        day = unpaid.due_date
        while day <= today:  # what the daily job would have done since
            dunning_run(today=day)
            day += dt.timedelta(days=1)

        invoices = []
        for number, product in (("K000001", "webwinkel-start"), ("K000002", "webwinkel-plus")):
            order = _order(customers[number], product)
            order_move(order=order, to=Order.Status.AWAITING_PAYMENT, by=orders_desk)
            invoices.append(Invoice.objects.get(order=order))
    paid, overpaid = invoices
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "afschrift-demo.xml"
    path.write_text(statement_for(paid, overpaid, today=today), encoding="utf-8")
    return DemoBilling(paid=paid, overpaid=overpaid, unpaid=unpaid, statement=path)
