"""iDEAL through the payment provider, against the local server that speaks Mollie's API.

The provider runs in a thread on a free port (kluis/billing/mollie_local.py). Its
webhook calls are delivered to kluis through Django's test client in the test's own
thread, as the form-encoded `id=tr_…` POST the provider sends.
"""

from __future__ import annotations

import time
import urllib.parse
import urllib.request
from unittest import mock

import pytest
from django.core import signing
from django.urls import reverse

from kluis.audit.models import AuditEntry, Disclosure
from kluis.billing import mollie, online, services
from kluis.billing.models import Invoice, OnlinePayment, Payment, Refund
from kluis.billing.mollie_local import serve
from kluis.billing.tests.helpers import order_for
from kluis.policy.enforce import Actor
from kluis.shop import services as shop_services
from kluis.shop.models import Order
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")

KEY = "test_kluistestsprovider00000000000000"


@pytest.fixture
def provider(settings, client):
    running = serve(api_key=KEY)
    settings.KLUIS_MOLLIE_API_URL = running.url
    settings.KLUIS_MOLLIE_CHECKOUT_ORIGIN = running.url
    settings.KLUIS_MOLLIE_API_KEY = KEY
    settings.KLUIS_BASE_URL = "http://testserver"

    def deliver(url: str, body: str) -> int:
        path = urllib.parse.urlsplit(url).path
        response = client.post(path, body, content_type="application/x-www-form-urlencoded")
        return response.status_code

    running.state.deliver = deliver
    yield running
    running.stop()


def _awaiting(personas) -> tuple[Order, Invoice]:
    order = shop_services.order_move(
        order=order_for(personas.customer_a),
        to=Order.Status.AWAITING_PAYMENT,
        by=personas.staff["orders"],
    )
    return order, Invoice.objects.get(order=order)


def _start(client, invoice: Invoice) -> OnlinePayment:
    link = online.pay_url(invoice).removeprefix("http://testserver")
    page = client.get(link)
    assert page.status_code == 200 and "Betalen met iDEAL" in page.content.decode()
    response = client.post(link)
    assert response.status_code == 303
    started = OnlinePayment.objects.get(invoice=invoice, status=mollie.OPEN)
    assert response["Location"] == started.checkout_url
    return started


def _webhook(client, body, **extra):
    return client.post(
        reverse("billing_pay:webhook"),
        body,
        content_type="application/x-www-form-urlencoded",
        **extra,
    )


def test_a_customer_pays_with_ideal_the_invoice_is_paid_and_the_order_moves(
    client, personas, provider
):
    order, invoice = _awaiting(personas)
    started = _start(client, invoice)
    remote = provider.state.payments[started.provider_id]
    assert remote["amount"] == {
        "currency": "EUR",
        "value": mollie.cents_to_value(invoice.total_cents),
    }
    assert remote["description"] == f"Factuur {invoice.number}"
    assert remote["webhookUrl"] == "http://testserver/betalen/mollie/webhook/"
    # The payer picks "paid" on the provider's checkout; the provider calls our webhook.
    provider.state.set_status(started.provider_id, "paid")
    assert [call.status for call in provider.state.webhook_calls] == [200]
    assert provider.state.webhook_calls[0].body == f"id={started.provider_id}"
    invoice.refresh_from_db()
    order.refresh_from_db()
    assert invoice.is_paid and order.status == Order.Status.PAID
    payment = Payment.objects.get(invoice=invoice)
    assert payment.match == Payment.Match.ONLINE and payment.statement is None
    assert payment.entry_reference == f"mollie:{started.provider_id}"
    # The payer's name and IBAN, as the provider returned them, sealed under the payment
    # category with the customer's key.
    me = Actor.subject(invoice.customer_id)
    assert payment.holder.reveal(purpose="payment_matching", actor=me) == "T. Testbetaler"
    assert payment.iban.reveal(purpose="payment_matching", actor=me) == "NL02ABNA0123456789"
    assert payment.iban.scope.subject == invoice.customer_id
    # The return page asks the provider and says it is paid.
    back = client.get(online.pay_url(invoice).removeprefix("http://testserver") + "terug/")
    assert 'data-state="paid"' in back.content.decode()


def test_my_data_names_the_payment_provider_as_recipient(client, personas, provider):
    _order, invoice = _awaiting(personas)
    started = _start(client, invoice)
    provider.state.set_status(started.provider_id, "paid")
    disclosure = Disclosure.objects.get(subject=invoice.customer_id)
    assert (
        disclosure.recipient == "payment_provider" and disclosure.reference == started.provider_id
    )
    log_in(client, personas.alice)
    page = client.get(reverse("portal:my-data")).content.decode()
    # By its own name (C-154/21), not only as "our payment service provider".
    assert "Mollie B.V." in page
    statement = client.get(reverse("policy:statement")).content.decode()
    assert "Mollie B.V." in statement


def test_a_webhook_replayed_100_times_pays_once(client, personas, provider):
    order, invoice = _awaiting(personas)
    started = _start(client, invoice)
    provider.state.set_status(started.provider_id, "paid")
    for _ in range(100):
        response = _webhook(client, f"id={started.provider_id}")
        assert response.status_code == 200 and response.content.decode() == "Verwerkt."
    invoice.refresh_from_db()
    assert invoice.paid_cents == invoice.total_cents
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    paid_audits = AuditEntry.objects.filter(action="billing.online_payment_paid")
    assert paid_audits.count() == 1


def test_a_webhook_for_an_unknown_id_is_answered_and_never_fetched(client, personas, provider):
    response = _webhook(client, "id=tr_NotOurs1234")
    assert response.status_code == 200
    assert response.content.decode() == "Onbekende betaling; genegeerd."
    assert not OnlinePayment.objects.exists() and not Payment.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        "",
        "id=",
        "id=../../etc/passwd",
        "id=tr_" + "a" * 200,
        '{"id": "tr_abc", "status": "paid"}',
        "id=re_abc123",
    ],
)
def test_a_forged_webhook_body_gets_a_clear_400(client, personas, provider, body):
    response = _webhook(client, body)
    assert response.status_code == 400
    assert response.content.decode() == "Geen geldig betaling-id."


def test_a_forged_paid_status_is_never_believed(client, personas, provider):
    _order, invoice = _awaiting(personas)
    started = _start(client, invoice)
    forged = urllib.parse.urlencode(
        {"id": started.provider_id, "status": "paid", "amount": "9999.00"}
    )
    response = _webhook(client, forged)
    assert response.status_code == 200  # handled: the provider says it is still open
    invoice.refresh_from_db()
    assert invoice.paid_cents == 0
    assert OnlinePayment.objects.get(pk=started.pk).status == mollie.OPEN


@pytest.mark.parametrize("outcome", ["failed", "canceled", "expired"])
def test_a_payment_that_fails_leaves_the_invoice_open_and_says_so(
    client, personas, provider, outcome
):
    _order, invoice = _awaiting(personas)
    started = _start(client, invoice)
    provider.state.set_status(started.provider_id, outcome)
    invoice.refresh_from_db()
    assert invoice.paid_cents == 0
    assert OnlinePayment.objects.get(pk=started.pk).status == outcome
    link = online.pay_url(invoice).removeprefix("http://testserver")
    page = client.get(link + "terug/").content.decode()
    assert f'data-provider="{outcome}"' in page and "Er is niets afgeschreven." in page
    # A new attempt starts a new payment at the provider.
    again = client.post(link)
    assert again.status_code == 303 and again["Location"] != started.checkout_url


def test_a_payment_left_open_is_reused_and_the_return_page_waits(client, personas, provider):
    _order, invoice = _awaiting(personas)
    started = _start(client, invoice)
    link = online.pay_url(invoice).removeprefix("http://testserver")
    assert client.post(link)["Location"] == started.checkout_url
    page = client.get(link + "terug/").content.decode()
    assert 'data-provider="open"' in page and "We wachten nog" in page
    assert OnlinePayment.objects.count() == 1 and len(provider.state.payments) == 1


def test_the_ideal_link_after_a_bank_transfer_says_the_invoice_is_paid(client, personas, provider):
    _order, invoice = _awaiting(personas)
    link = online.pay_url(invoice).removeprefix("http://testserver")
    _transfer(invoice, invoice.total_cents)
    page = client.get(link)
    assert page.status_code == 200 and "Deze factuur is al betaald" in page.content.decode()
    refused = client.post(link)
    assert refused.status_code == 409 and "Deze factuur is al betaald" in refused.content.decode()
    assert not provider.state.payments and not OnlinePayment.objects.exists()


def test_an_expired_or_forged_link_is_refused_in_dutch(client, personas, provider, settings):
    _order, invoice = _awaiting(personas)
    link = online.pay_url(invoice).removeprefix("http://testserver")
    settings.KLUIS_IDEAL_LINK_DAYS = 1
    old = signing.dumps({"i": str(invoice.pk)}, salt=online.SALT)
    later = time.time() + 2 * 86400
    with mock.patch("django.core.signing.time.time", return_value=later):
        response = client.get(link)
    assert (
        response.status_code == 410 and "Deze betaallink is verlopen" in response.content.decode()
    )
    forged = client.get(reverse("billing_pay:invoice", args=[old[:-3] + "abc"]))
    assert forged.status_code == 400 and "Deze betaallink klopt niet." in forged.content.decode()


def test_a_provider_that_cannot_be_reached_gets_a_clear_503(client, personas, provider, settings):
    _order, invoice = _awaiting(personas)
    started = _start(client, invoice)
    provider.stop()
    settings.KLUIS_MOLLIE_API_URL = "http://127.0.0.1:9"
    OnlinePayment.objects.all().delete()
    page = client.post(online.pay_url(invoice).removeprefix("http://testserver"))
    assert page.status_code == 503 and "iDEAL is nu niet bereikbaar" in page.content.decode()
    OnlinePayment.objects.create(
        provider_id=started.provider_id, invoice=invoice, amount_cents=1, status="open"
    )
    hook = _webhook(client, f"id={started.provider_id}")
    assert hook.status_code == 503


def _transfer(invoice: Invoice, cents: int) -> Payment:
    """A bank transfer on a statement, applied as the statement import applies it."""
    from kluis.billing.models import BankStatement

    statement = BankStatement.objects.create(
        version="02", message_id="M", statement_id=f"S{cents}", sha256="0" * 64
    )
    payment = Payment(
        statement=statement,
        entry_reference=f"T-{invoice.number}-{cents}",
        subject=invoice.customer_id,
        booking_date=invoice.issue_date,
        amount_cents=cents,
        match=Payment.Match.REFERENCE,
        invoice=invoice,
        iban="NL44RABO0123456789",
        holder="Alice de Vries",
    )
    payment.save(force_insert=True)
    services.apply_payment(invoice, payment, None)
    return payment


def test_paid_by_transfer_and_by_ideal_the_second_is_refunded_through_the_provider(
    client, personas, provider, django_capture_on_commit_callbacks
):
    _order, invoice = _awaiting(personas)
    started = _start(client, invoice)
    _transfer(invoice, invoice.total_cents)  # the bank statement shows the money first
    provider.state.set_status(started.provider_id, "paid")  # then iDEAL completes
    invoice.refresh_from_db()
    assert invoice.paid_cents == 2 * invoice.total_cents
    [refund] = Refund.objects.all()
    assert refund.amount_cents == invoice.total_cents
    assert refund.payment.match == Payment.Match.ONLINE and refund.proposed_by is None
    # The same four-eyes approval as every refund: one proposes, another approves.
    services.refund_propose(refund=refund, by=personas.staff["finance"])
    with pytest.raises(services.BillingError):
        services.refund_decide(refund=refund, by=personas.staff["finance"], approve=True)
    assert not provider.state.refunds
    finance2 = make_staff(roles=["finance"], email="finance2@winkeltjes.net")
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_decide(refund=refund, by=finance2, approve=True)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SENT and refund.provider_refund_id.startswith("re_")
    [remote] = provider.state.refunds.values()
    assert remote["paymentId"] == started.provider_id
    assert remote["amount"]["value"] == mollie.cents_to_value(invoice.total_cents)
    # Not in the pain.001 file as well.
    with pytest.raises(services.BillingError, match="nothing_to_export"):
        services.refunds_export(by=finance2)
    # Sending it again changes nothing, here or at the provider.
    online.provider_refund_send(refund.pk)
    assert len(provider.state.refunds) == 1
    assert Disclosure.objects.filter(recipient="payment_provider", purpose="refunds").count() == 1


def test_a_payment_for_a_cancelled_and_credited_order_is_proposed_for_refund(
    client, personas, provider
):
    order, invoice = _awaiting(personas)
    started = _start(client, invoice)
    shop_services.order_move(order=order, to=Order.Status.CANCELLED, by=personas.staff["orders"])
    invoice.refresh_from_db()
    assert invoice.credited_at is not None and invoice.credit_notes.exists()
    # A bank transfer with the betalingskenmerk, and the iDEAL payment started before.
    transfer = _transfer(invoice, invoice.total_cents)
    provider.state.set_status(started.provider_id, "paid")
    invoice.refresh_from_db()
    order.refresh_from_db()
    assert invoice.paid_cents == 0 and invoice.paid_at is None
    assert order.status == Order.Status.CANCELLED
    refunds = {r.payment_id: r for r in Refund.objects.filter(invoice=invoice)}
    online_payment = Payment.objects.get(match=Payment.Match.ONLINE)
    assert set(refunds) == {transfer.pk, online_payment.pk}
    assert all(r.amount_cents == invoice.total_cents for r in refunds.values())
    assert all(r.status == Refund.Status.PROPOSED for r in refunds.values())


def _api(provider, path: str) -> dict:
    """GET from the local provider's API, as kluis's key."""
    import json

    request = urllib.request.Request(  # noqa: S310 - the local server, http
        provider.url + path, headers={"Authorization": f"Bearer {KEY}"}
    )
    with urllib.request.urlopen(request) as answer:  # noqa: S310
        return dict(json.load(answer))


def test_a_mollie_payout_on_the_statement_is_a_settlement_not_a_payment_or_refund(
    client, personas, provider, tmp_path
):
    from kluis.billing.camt_write import Tx, write_statement
    from kluis.billing.statements import statement_import

    _order, invoice = _awaiting(personas)
    started = _start(client, invoice)
    provider.state.set_status(started.provider_id, "paid")
    invoice.refresh_from_db()
    assert invoice.is_paid
    settlement = provider.state.settle()
    assert settlement is not None and provider.state.settle() is None  # once per payment
    # The stand-in describes the payout as Mollie's Settlements API does, by id or by
    # the bank reference.
    for key in (settlement["id"], settlement["reference"]):
        assert _api(provider, f"/v2/settlements/{key}")["id"] == settlement["id"]
    listed = _api(provider, f"/v2/settlements/{settlement['id']}/payments")
    assert [p["id"] for p in listed["_embedded"]["payments"]] == [started.provider_id]
    payout = settlement["amount"]["value"]
    assert int(payout.replace(".", "")) == invoice.total_cents - provider.state.fee_cents
    # Mollie's transfer arrives on our statement: one credit, its reference in the text.
    path = write_statement(
        tmp_path,
        [
            Tx(
                "PAYOUT-1",
                payout,
                name="Stichting Mollie Payments",
                iban="NL55DEUT0265186439",
                text=f"{settlement['reference']} Mollie payout {invoice.number}",
            )
        ],
    )
    result = statement_import(path=path, imported_by=None)
    assert (result.new, result.matches) == (1, {"settlement": 1})
    row = Payment.objects.get(entry_reference="PAYOUT-1")
    assert (row.match, row.invoice_id, row.proposed_invoice_id) == ("settlement", None, None)
    # Not a second payment of the invoice it names, not a refund, not unknown money.
    invoice.refresh_from_db()
    assert invoice.paid_cents == invoice.total_cents
    assert not Refund.objects.exists()
    assert not Payment.objects.filter(match__in=["none", "proposed"]).exists()
    again = statement_import(path=path, imported_by=None)
    assert (again.new, again.already_imported) == (0, 1)


def test_a_credit_from_mollie_without_a_settlement_reference_is_left_for_finance(
    personas, tmp_path
):
    from kluis.billing.camt_write import Tx, write_statement
    from kluis.billing.statements import statement_import

    path = write_statement(
        tmp_path, [Tx("M-1", "5.00", name="Mollie B.V.", text="correctie kosten")]
    )
    assert statement_import(path=path, imported_by=None).matches == {"none": 1}
