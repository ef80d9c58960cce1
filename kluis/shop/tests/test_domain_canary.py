"""A customer's domain name never reaches the database in plain text, on any path.

A canary domain goes the whole way: into the cart (the session store), through the
checkout onto the order lines, into the subscription it starts, onto the order's
invoice, a full credit note, a renewal invoice and the mails. Then the raw bytes of
both databases are searched (kluis/vault/tests/test_canary.py). And the customer
still reads it where it is theirs to read: the invoice PDF, the portal and the mails.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from kluis.billing import renewals
from kluis.billing import services as billing
from kluis.billing.models import Invoice, InvoiceLineDomain
from kluis.billing.pdf import invoice_pdf
from kluis.billing.rates import vat_rates_load
from kluis.mail.delivery import deliver_due
from kluis.policy.enforce import Actor
from kluis.shop import services
from kluis.shop.models import DomainName, Order, OrderLine, Subscription
from kluis.shop.tests.helpers import checkout, fill_cart
from kluis.testing import log_in
from kluis.vault.tests.test_canary import _haystack

LABEL = "kanariedomein7f3a9c"
DOMAIN = f"{LABEL}.nl"


def _sessions() -> bytes:
    """The session store decoded: Django keeps a session as signed, compressed base64,
    in which a plain value is not found by searching bytes."""
    store = SessionStore()
    return json.dumps([store.decode(s.session_data) for s in Session.objects.all()]).encode()


def _assert_not_stored() -> None:
    for alias in ("default", "keystore"):
        haystack = _haystack(alias).lower() + (_sessions() if alias == "default" else b"")
        for encoding in ("utf-8", "utf-16-le"):
            assert LABEL.encode(encoding) not in haystack, (alias, encoding)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_domain_name_stays_sealed_from_cart_to_renewal_invoice(catalogue, personas):
    vat_rates_load()  # a transactional test before may have flushed them
    client = Client()
    token = fill_cart(client, domains=(DOMAIN,))
    assert Session.objects.exists()
    _assert_not_stored()  # the cart in the session store

    assert checkout(client, token, email="kanarie-klant@example.nl").status_code == 302
    order = Order.objects.get(idempotency_key=token)
    [_hosting, domain_line] = order.lines.all()
    assert domain_line.kind == OrderLine.Kind.DOMAIN and domain_line.domain_name is not None
    assert DomainName.objects.get(name_index=domain_line.domain_name.name_index) is not None

    invoice = billing.invoice_issue(order=order, issued_by=None)
    billing.credit_note_issue(invoice=invoice, issued_by=None)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.DELIVERED)
    start = dt.date(2026, 3, 1)
    [_hosting_sub, domain_sub] = services.subscriptions_start(order=order, started_on=start)
    assert domain_sub.domain_name_id == domain_line.domain_name_id
    Subscription.objects.filter(pk=_hosting_sub.pk).update(ends_on=_hosting_sub.period_end)
    renewal = renewals.renewal_invoice_issue(
        customer=order.customer, today=domain_sub.period_end - dt.timedelta(days=1)
    )
    assert renewal is not None
    assert InvoiceLineDomain.objects.count() == 3  # invoice, credit note, renewal

    _assert_not_stored()

    # The customer still reads their domain where it is theirs: the PDFs (the line text
    # an invoice must carry), and the confirmation mail.
    owner = Actor.subject(order.customer_id)
    for issued in Invoice.objects.filter(customer=order.customer):
        pdf = PdfReader(io.BytesIO(invoice_pdf(issued, owner)))
        text = "".join(page.extract_text() for page in pdf.pages)
        assert DOMAIN in text, issued.number
    deliver_due(worker="test", batch=100)
    _assert_not_stored()  # what the mail worker kept of the mails it sent
    confirmation = next(m for m in mail.outbox if order.number in m.subject)
    assert DOMAIN in confirmation.body


@pytest.mark.django_db(databases="__all__")
def test_the_portal_shows_the_owner_their_domain_and_the_back_office_list_masks_it(
    client, catalogue, personas
):
    from kluis.shop.testing import make_subscription

    make_subscription(personas.customer_a, domain="alice-winkel.nl")
    log_in(client, personas.alice)
    assert "alice-winkel.nl" in client.get(reverse("shop_portal:subscriptions")).content.decode()
    client.logout()
    log_in(client, personas.staff["orders"])
    listed = client.get(reverse("shop_backoffice:subscriptions")).content.decode()
    assert "alice-winkel.nl" not in listed and "(.nl)" in listed


@pytest.mark.django_db(databases="__all__")
def test_the_order_page_shows_the_domain_to_its_owner_and_to_staff_only_within_the_case(
    client, catalogue, personas
):
    from kluis.audit.models import AuditEntry
    from kluis.shop.testing import make_order

    order = make_order(personas.customer_a, domain="alice-winkel.nl")
    log_in(client, personas.alice)
    mine = reverse("shop_portal:order", kwargs={"order_id": order.pk})
    assert "alice-winkel.nl" in client.get(mine).content.decode()
    client.logout()
    log_in(client, personas.staff["orders"])
    staff_page = reverse("shop_backoffice:order", kwargs={"order_id": order.pk})
    assert "alice-winkel.nl" in client.get(staff_page).content.decode()
    reveal = AuditEntry.objects.filter(action="vault.reveal").order_by("seq").last()
    assert reveal is not None and "kluis.domain_name" in reveal.payload
    assert f"order:{order.pk}" in reveal.payload
    # Delivered, the order is no case any more: the line shows masked.
    Order.objects.filter(pk=order.pk).update(status=Order.Status.DELIVERED)
    page = client.get(staff_page).content.decode()
    assert "alice-winkel.nl" not in page and "\u2022" * 8 in page
