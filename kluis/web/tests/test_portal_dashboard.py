"""The portal's home answers "what needs me?": what to pay, what runs, what stops, what we owe."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from kluis.billing import services as billing
from kluis.billing.tests.helpers import order_for
from kluis.shop.models import OrderLine, Subscription
from kluis.shop.testing import make_subscription
from kluis.testing import log_in
from kluis.web.services import question_submit

pytestmark = pytest.mark.django_db(databases="__all__")


def _text(response) -> str:
    markup = response.content.decode()
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def test_a_new_customer_sees_empty_states_with_a_way_forward(client, personas):
    log_in(client, personas.alice)
    text = _text(client.get(reverse("portal:home")))
    assert "Je hebt geen openstaande facturen." in text
    assert "Er lopen nog geen diensten." in text
    assert "Je hebt geen openstaande vragen." in text


def test_the_dashboard_shows_open_invoices_services_ending_domains_and_questions(client, personas):
    alice = personas.customer_a
    today = timezone.localdate()
    invoice = billing.invoice_issue(order=order_for(alice), issued_by=None, issue_date=today)
    started = today - dt.timedelta(days=300)
    subscriptions = make_subscription(alice, started_on=started, domain="voorbeeld.nl")
    domain = next(s for s in subscriptions if s.kind == OrderLine.Kind.DOMAIN)
    Subscription.objects.filter(pk=domain.pk).update(ends_on=today + dt.timedelta(days=20))
    question = question_submit(
        name="Alice de Vries",
        email="alice@example.nl",
        message="Hoe zet ik mijn IP-adres op de lijst?",
        language="nl",
        client_address="192.0.2.7",
    )
    # Bob's question never shows on Alice's page.
    other = question_submit(
        name="Bob Jansen",
        email="bob@example.nl",
        message="Een vraag van Bob.",
        language="nl",
        client_address="192.0.2.8",
    )
    log_in(client, personas.alice)
    response = client.get(reverse("portal:home"))
    text = _text(response)
    assert f"Factuur {invoice.number}" in text
    assert reverse("billing_portal:invoices") in response.content.decode()
    assert "Deze domeinnamen stoppen binnenkort" in text
    assert "voorbeeld.nl stopt na" in text
    assert f"Vraag {question.reference}" in text
    assert other.reference not in text
    # Dates as a reader writes them, never ISO.
    assert re.search(r"\b\d{4}-\d{2}-\d{2}\b", text) is None


def test_a_paid_invoice_is_not_on_the_dashboard(client, personas):
    alice = personas.customer_a
    invoice = billing.invoice_issue(
        order=order_for(alice), issued_by=None, issue_date=timezone.localdate()
    )
    from kluis.billing.models import Invoice

    Invoice.objects.filter(pk=invoice.pk).update(paid_cents=invoice.total_cents)
    log_in(client, personas.alice)
    assert f"Factuur {invoice.number}" not in _text(client.get(reverse("portal:home")))
