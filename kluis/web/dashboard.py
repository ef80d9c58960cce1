"""The portal's home: what needs the customer first, from every app, in one read.

Open invoices (with a way to pay), the services that run, domain names that stop
soon, and questions we have not closed yet. Each list is scoped to the customer in
one way (its app's `for_customer`, or the customer's own address index for questions).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from kluis.accounts.models import Customer
from kluis.billing.models import Invoice
from kluis.policy.enforce import Actor
from kluis.shop.domains import masked_subscription_names, subscription_names
from kluis.shop.models import Order, OrderLine, Subscription
from kluis.web.models import Question

# A domain name that stops within this many days is shown as "stops soon".
DOMAIN_NOTICE_DAYS = 60
# The most recent orders shown on support's page of a customer.
RECENT_ORDERS = 10


@dataclass(frozen=True)
class Dashboard:
    invoices: list[Invoice]
    services: list[Subscription]
    domains_ending: list[Subscription]
    questions: list[Question]
    today: dt.date
    orders: list[Order]
    # Each service's name as it is shown: a domain revealed for the customer, masked
    # for staff (support's page of a customer is no case of a domain).
    names: dict[int, str]

    @property
    def named_services(self) -> list[tuple[Subscription, str]]:
        return [(s, self.names[s.pk]) for s in self.services]

    @property
    def named_domains_ending(self) -> list[tuple[Subscription, str]]:
        return [(s, self.names[s.pk]) for s in self.domains_ending]

    @property
    def is_empty(self) -> bool:
        return not (self.invoices or self.services or self.questions)


def portal_dashboard(
    customer: Customer,
    today: dt.date | None = None,
    *,
    language: str = "nl",
    as_customer: bool = False,
) -> Dashboard:
    """The dashboard of `customer`; with `as_customer` their domains are revealed to them."""
    today = today or timezone.localdate()
    invoices = [
        invoice
        for invoice in Invoice.objects.for_customer(customer).order_by("due_date", "number")
        if invoice.is_payable
    ]
    running = [
        subscription
        for subscription in Subscription.objects.for_customer(customer)
        .select_related("product", "extension")
        .order_by("started_on", "pk")
        if not subscription.has_ended(today)
    ]
    horizon = today + dt.timedelta(days=DOMAIN_NOTICE_DAYS)
    domains_ending = [
        s
        for s in running
        if s.kind == OrderLine.Kind.DOMAIN and s.ends_on is not None and s.ends_on <= horizon
    ]
    questions = (
        list(Question.objects.open().filter(email_index=customer.email_index))
        if customer.email_index
        else []
    )
    orders = list(Order.objects.for_customer(customer).order_by("-created_at")[:RECENT_ORDERS])
    if as_customer:
        named = subscription_names(
            running,
            language,
            purpose="contract_administration",
            actor=Actor.subject(customer.pk),
        )
    else:
        named = masked_subscription_names(running, language)
    names = {s.pk: name for s, name in named}
    return Dashboard(invoices, running, domains_ending, questions, today, orders, names)
