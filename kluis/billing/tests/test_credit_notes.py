"""Several partial credit notes on one invoice, never more than its total."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from kluis.billing import renewals, services
from kluis.billing.models import Invoice, Refund
from kluis.billing.services import LineInput
from kluis.shop import services as shop_services
from kluis.shop.catalogue import catalogue_load
from kluis.shop.models import Order, Product, Subscription
from kluis.shop.testing import make_subscription
from kluis.shop.tests.test_consumer import pay
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def two_renewed_yearly_consumer_packages(personas: Personas) -> tuple[list[Subscription], Invoice]:
    """Alice's two yearly packages, renewed on one paid invoice over a year ago."""
    catalogue_load()
    Product.objects.filter(code="webwinkel-start").update(period="year")
    started = timezone.localdate() - dt.timedelta(days=400)
    subscriptions = [
        make_subscription(personas.customer_a, started_on=started)[0] for _ in range(2)
    ]
    Order.objects.filter(customer=personas.customer_a).update(consumer=True)
    renewals.renewals_run(today=subscriptions[0].period_end - dt.timedelta(days=5))
    [invoice] = Invoice.objects.filter(order__isnull=True)
    assert invoice.lines.count() == 2
    pay(personas, invoice)
    for subscription in subscriptions:
        subscription.refresh_from_db()
    return subscriptions, invoice


def test_a_second_early_end_on_one_renewal_invoice_gets_its_own_credit_note(
    personas: Personas,
) -> None:
    (first, second), invoice = two_renewed_yearly_consumer_packages(personas)
    shop_services.subscription_end(subscription=first, by=personas.alice)
    shop_services.subscription_end(subscription=second, by=personas.alice)
    credits = list(invoice.credit_notes.order_by("sequence"))
    assert len(credits) == 2
    assert credits[0].net_cents == credits[1].net_cents < 0
    # Each credit's excess over what is still owed is proposed for refund, once.
    refunded = sum(r.amount_cents for r in Refund.objects.filter(invoice=invoice))
    assert refunded == -sum(c.total_cents for c in credits)


def test_crediting_more_than_is_left_of_an_invoice_is_refused(personas: Personas) -> None:
    _subscriptions, invoice = two_renewed_yearly_consumer_packages(personas)
    # Finance credited all but one cent of the invoice by hand.
    services.credit_note_issue(
        invoice=invoice,
        issued_by=personas.staff["finance"],
        lines=[LineInput("Correctie", -(invoice.net_cents - 1))],
    )
    with pytest.raises(services.BillingError) as refused:
        services.credit_note_issue(
            invoice=invoice, issued_by=None, lines=[LineInput("Nog een", -2)]
        )
    assert refused.value.code == "over_credited"
    assert invoice.credit_notes.count() == 1
    # The last cent can still be credited: the limit is the total, not below it.
    services.credit_note_issue(invoice=invoice, issued_by=None, lines=[LineInput("Rest", -1)])
    assert invoice.credit_notes.count() == 2


def test_the_portal_says_why_an_end_that_would_over_credit_is_refused(
    client, personas: Personas
) -> None:
    (first, _second), invoice = two_renewed_yearly_consumer_packages(personas)
    services.credit_note_issue(
        invoice=invoice,
        issued_by=personas.staff["finance"],
        lines=[LineInput("Correctie", -(invoice.net_cents - 1))],
    )
    log_in(client, personas.alice)
    url = reverse("shop_portal:subscription-end", kwargs={"subscription_id": first.pk})
    page = client.post(url, {"confirm": "on"}, follow=True).content.decode()
    assert "al zoveel gecrediteerd" in page
    first.refresh_from_db()
    assert first.ends_on is None
    assert invoice.credit_notes.count() == 1


def test_a_full_credit_follows_no_partial_one_and_nothing_follows_a_full_one(
    personas: Personas,
) -> None:
    (_first, _second), invoice = two_renewed_yearly_consumer_packages(personas)
    services.credit_note_issue(
        invoice=invoice, issued_by=None, lines=[LineInput("Correctie", -100)]
    )
    with pytest.raises(services.BillingError) as refused:
        services.credit_note_issue(invoice=invoice, issued_by=None)
    assert refused.value.code == "already_credited"
    assert Invoice.objects.get(pk=invoice.pk).credited_at is None

    other = services.invoice_issue_for_lines(
        customer=personas.customer_a,
        lines=[LineInput("Extra", 1000)],
        evidence=None,
        issued_by=None,
    )
    services.credit_note_issue(invoice=other, issued_by=None)
    with pytest.raises(services.BillingError) as refused:
        services.credit_note_issue(invoice=other, issued_by=None, lines=[LineInput("x", -1)])
    assert refused.value.code == "already_credited"
