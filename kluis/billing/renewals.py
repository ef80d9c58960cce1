"""Renewal invoices: the next period of every renewing subscription, invoiced ahead.

Each run invoices, for every customer, the periods of their subscriptions that start
within KLUIS_RENEWAL_LEAD_DAYS, on one invoice per customer. Claiming a period writes
a renewal row that is unique per subscription and period start, in the same
transaction as the invoice: a rerun, a concurrent run or a run after a crash invoices
every period once. Each period costs what applies to that subscription on the day
the period starts (kluis/shop/pricing.py: the order's price until a price change has
been announced to the subscriber and its notice has run); VAT is decided as for an
order, with the customer's VIES answer as evidence.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, override

from kluis.accounts.models import Customer
from kluis.billing import services
from kluis.billing.models import Invoice
from kluis.billing.vat import VatError
from kluis.formats import long_date
from kluis.shop import services as shop_services
from kluis.shop.domains import domains_reveal
from kluis.shop.models import Subscription, VatCheck

logger = logging.getLogger(__name__)


@dataclass
class RenewalRun:
    invoices: int = 0
    periods: int = 0
    failed: int = 0


def renewals_horizon(today: dt.date) -> dt.date:
    """Periods that start up to and including the day after this one are invoiced now."""
    return today + dt.timedelta(days=settings.KLUIS_RENEWAL_LEAD_DAYS)


def _line_description(
    subscription: Subscription, start: dt.date, end: dt.date, language: str
) -> str:
    name = subscription.name(language)
    if subscription.product is None:
        name = gettext("Domeinnaam %(domain)s") % {"domain": name}
    return gettext("%(name)s, verlenging %(start)s t/m %(end)s") % {
        "name": name[:200],
        "start": long_date(start, language),
        "end": long_date(end, language),
    }


def _vies_evidence(customer: Customer, day: dt.date) -> VatCheck | None:
    """The customer's latest valid VIES answer, if it is for the VAT number they have now."""
    if customer.vat_number is None:
        return None
    current = customer.vat_number.reveal(purpose="invoicing", actor=services.BILLING)
    last = (
        VatCheck.objects.filter(order__customer=customer, result=VatCheck.Result.VALID)
        .order_by("-checked_at")
        .first()
    )
    if last is None:
        return None
    checked = last.vat_number.reveal(purpose="invoicing", actor=services.BILLING)
    if checked.replace(" ", "").upper() != current.replace(" ", "").upper():
        return None
    if timezone.localdate(last.checked_at) >= day - dt.timedelta(
        days=settings.KLUIS_VIES_MAX_AGE_DAYS
    ):
        return last
    # Older than KLUIS_VIES_MAX_AGE_DAYS: ask VIES again. Only a valid answer keeps
    # the reverse charge; VIES not answering leaves the customer due for the next run.
    again = shop_services.vat_number_recheck(order=last.order, vat_number=checked)
    if again.result == VatCheck.Result.UNAVAILABLE:
        raise services.BillingError("vies_unavailable")
    return again if again.result == VatCheck.Result.VALID else None


@transaction.atomic
def renewal_invoice_issue(*, customer: Customer, today: dt.date | None = None) -> Invoice | None:
    """One invoice with every period of the customer's subscriptions now due, or None."""
    day = today or timezone.localdate()
    claims = shop_services.subscriptions_claim(customer=customer, until=renewals_horizon(day))
    if not claims:
        return None
    language = customer.language if customer.language in ("nl", "en") else "nl"
    domains = domains_reveal(
        [claim.subscription for claim in claims], purpose="invoicing", actor=services.BILLING
    )
    with override(language):
        lines = [
            services.LineInput(
                _line_description(
                    claim.subscription,
                    claim.renewal.period_start,
                    claim.renewal.period_end,
                    language,
                ),
                claim.renewal.price_cents,
                period=(claim.renewal.period_start, claim.renewal.period_end),
                domain=domain,
            )
            for claim, domain in zip(claims, domains, strict=True)
        ]
    invoice = services.invoice_issue_for_lines(
        customer=customer,
        lines=lines,
        evidence=_vies_evidence(customer, day),
        issued_by=None,
        issue_date=day,
    )
    shop_services.renewals_invoiced(claims=claims, invoice_number=invoice.number)
    return invoice


def renewals_run(*, today: dt.date | None = None) -> RenewalRun:
    """Invoice the due renewals of every customer, each customer in a transaction of its own.

    A customer whose invoice cannot be made (no VAT rate for their country) is logged
    and left due: the next run tries again, and the other customers are invoiced.
    """
    day = today or timezone.localdate()
    run = RenewalRun()
    due = (
        Subscription.objects.due(renewals_horizon(day))
        .order_by()
        .values_list("customer_id", flat=True)
        .distinct()
    )
    for customer in Customer.objects.filter(pk__in=list(due)).order_by("number"):
        try:
            invoice = renewal_invoice_issue(customer=customer, today=day)
        except (services.BillingError, VatError):
            logger.exception("renewal invoice for customer %s failed", customer.number)
            run.failed += 1
            continue
        if invoice is not None:
            run.invoices += 1
            run.periods += invoice.lines.count()
    return run
