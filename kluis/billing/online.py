"""Paying an invoice online with iDEAL through the payment service provider (Mollie).

- A signed link (no login, expires after KLUIS_IDEAL_LINK_DAYS) names the invoice;
  the invoice mail and the portal carry it. Following it shows what is open; the
  button starts a payment at the provider and sends the payer to its checkout.
- The provider's webhook tells us only a payment id. We look the id up among the
  payments we started (an unknown id is ignored, never fetched), fetch the payment
  from the provider and act on what the provider says, never on the request body.
- A paid payment becomes a billing Payment (entry reference `mollie:tr_…`, unique),
  sealed under the customer's key with the payer's name and IBAN when the provider
  returns them, and is applied to the invoice under the invoice's row lock, like a
  bank statement's payment: a replayed webhook adds nothing, and a bank transfer of
  the same invoice in between makes the later of the two an overpayment, which is
  proposed for refund, never lost.
- An approved refund of an online payment goes back through the provider's refund
  API (kluis/billing/services.py, refund_decide), not into the pain.001 file.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from kluis.audit.chain import audit_append
from kluis.audit.disclosures import disclosure_record
from kluis.billing import mollie
from kluis.billing.chargebacks import chargebacks_sync, chargebacks_wanted
from kluis.billing.models import Invoice, OnlinePayment, Payment, Refund
from kluis.billing.services import BILLING, BillingError, apply_payment

logger = logging.getLogger(__name__)

SALT = "kluis.billing.ideal"
PROVIDER = "payment_provider"
PROVIDER_ID = re.compile(r"^tr_[A-Za-z0-9]{1,64}$")
# A payment the payer may still finish is reused rather than started again.
REUSE_SECONDS = 10 * 60


def ideal_enabled() -> bool:
    return bool(settings.KLUIS_MOLLIE_API_KEY)


def pay_token(invoice: Invoice) -> str:
    return signing.dumps({"i": str(invoice.pk)}, salt=SALT, compress=False)


def pay_url(invoice: Invoice) -> str:
    """The link in the mail and the portal: absolute, on KLUIS_BASE_URL."""
    return settings.KLUIS_BASE_URL + reverse("billing_pay:invoice", args=[pay_token(invoice)])


class LinkError(Exception):
    def __init__(self, code: str) -> None:  # "expired" or "invalid"
        super().__init__(code)
        self.code = code


def invoice_of_token(token: str) -> Invoice:
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.KLUIS_IDEAL_LINK_DAYS * 86400)
    except signing.SignatureExpired:
        raise LinkError("expired") from None
    except signing.BadSignature:
        raise LinkError("invalid") from None
    try:
        invoice_id = uuid.UUID(str(data.get("i")))
    except (AttributeError, ValueError):
        raise LinkError("invalid") from None
    invoice = Invoice.objects.select_related("customer").filter(pk=invoice_id).first()
    if invoice is None:
        raise LinkError("invalid")
    return invoice


def _refuse_unpayable(invoice: Invoice) -> None:
    if invoice.kind != Invoice.Kind.INVOICE:
        raise BillingError("not_an_invoice")
    if invoice.is_paid:
        raise BillingError("already_paid")
    if not invoice.is_payable:
        raise BillingError("credited")


@transaction.atomic
def ideal_start(*, invoice: Invoice, return_url: str) -> OnlinePayment:
    """A payment of what is open on the invoice, at the provider; reuses a fresh open one."""
    if not ideal_enabled():
        raise BillingError("ideal_off")
    locked = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
    _refuse_unpayable(locked)
    recent = timezone.now() - dt.timedelta(seconds=REUSE_SECONDS)
    reusable = (
        OnlinePayment.objects.filter(
            invoice=locked,
            status=mollie.OPEN,
            amount_cents=locked.open_cents,
            created_at__gte=recent,
        )
        .exclude(checkout_url="")
        .order_by("-created_at")
        .first()
    )
    if reusable is not None:
        return reusable
    attempt = OnlinePayment.objects.filter(invoice=locked).count() + 1
    answer = mollie.payment_create(
        amount_cents=locked.open_cents,
        description=f"Factuur {locked.number}",
        redirect_url=return_url,
        webhook_url=settings.KLUIS_BASE_URL + reverse("billing_pay:webhook"),
        locale=locked.language,
        metadata={"invoice": locked.number},
        idempotency_key=f"kluis-{locked.pk}-{attempt}",
    )
    online = OnlinePayment.objects.create(
        provider_id=answer.id,
        invoice=locked,
        amount_cents=locked.open_cents,
        status=answer.status,
        checkout_url=answer.checkout_url,
    )
    # The payer's bank details reach the provider from here on: a declared flow to a
    # processor, recorded so that the customer's "Mijn gegevens" names it.
    disclosure_record(
        subject=locked.customer_id,
        recipient=PROVIDER,
        purpose="payment_matching",
        categories=["user.financial.bank_account"],
        actor=BILLING,
        reference=answer.id,
    )
    return online


def known_payment(provider_id: str) -> OnlinePayment | None:
    if not PROVIDER_ID.match(provider_id):
        return None
    return OnlinePayment.objects.filter(provider_id=provider_id).first()


def ideal_sync(*, online: OnlinePayment) -> OnlinePayment:
    """Fetch the payment's status from the provider and act on it (webhook and return page).

    Raises mollie.ProviderError when the provider cannot be asked; nothing changes then.
    """
    answer = mollie.payment_get(online.provider_id)
    recorded = _record(online.pk, answer)
    # A paid payment the payer's bank took back: Mollie keeps it `paid`, shows the money
    # charged back and calls this webhook (kluis/billing/chargebacks.py).
    if chargebacks_wanted(recorded, answer):
        chargebacks_sync(recorded)
    return recorded


@transaction.atomic
def _record(online_pk: int, answer: mollie.ProviderPayment) -> OnlinePayment:
    online = OnlinePayment.objects.select_for_update().get(pk=online_pk)
    if answer.id != online.provider_id:
        raise mollie.ProviderError("the provider answered for another payment")
    if online.status != answer.status:
        online.status = answer.status
        online.save(update_fields=["status", "updated_at"])
    if answer.status != mollie.PAID or online.payment_id is not None:
        return online
    if answer.currency != "EUR":
        raise mollie.ProviderError(f"the payment is in {answer.currency}, not EUR")
    invoice = Invoice.objects.select_related("customer").get(pk=online.invoice_id)
    paid_at = answer.paid_at or timezone.now()
    payment = Payment(
        statement=None,
        entry_reference=f"mollie:{answer.id}",
        subject=invoice.customer_id,
        booking_date=timezone.localdate(paid_at),
        amount_cents=answer.amount_cents,
        match=Payment.Match.ONLINE,
        invoice=invoice,
    )
    if answer.consumer_account:
        payment.iban = answer.consumer_account.replace(" ", "")
    if answer.consumer_name:
        payment.holder = answer.consumer_name
    payment.reference = answer.id
    payment.save(force_insert=True)
    online.payment = payment
    online.save(update_fields=["payment", "updated_at"])
    apply_payment(invoice, payment, None)
    audit_append(
        action="billing.online_payment_paid",
        actor=BILLING.ref,
        subject=invoice.customer_id,
        data={"invoice": invoice.number, "provider_id": answer.id, "cents": answer.amount_cents},
    )
    return online


# --- refunds through the provider -------------------------------------------------------


def provider_refund_send(refund_id: int) -> Refund:
    """Send one approved refund of an online payment back through the provider.

    Safe to call again: the provider sees the same idempotency key, and a refund sent
    once is never sent twice. A provider that refuses leaves the refund approved, with
    the reason logged, to be sent again later.
    """
    with transaction.atomic():
        refund = (
            Refund.objects.select_for_update(of=("self",))
            .select_related("payment__online", "invoice")
            .get(pk=refund_id)
        )
        online = getattr(refund.payment, "online", None)
        if (
            refund.status != Refund.Status.APPROVED
            or online is None
            or refund.provider_refund_id
            or refund.held_reason == Refund.CHARGEBACK  # the money was taken back
        ):
            return refund
        answer = mollie.refund_create(
            provider_id=online.provider_id,
            amount_cents=refund.amount_cents,
            description=f"Terugbetaling {refund.invoice.number}",
            idempotency_key=f"kluis-refund-{refund.pk}",
        )
        refund.provider_refund_id = answer.id
        refund.status = Refund.Status.SENT
        refund.save(update_fields=["provider_refund_id", "status"])
        disclosure_record(
            subject=refund.invoice.customer_id,
            recipient=PROVIDER,
            purpose="refunds",
            categories=["user.financial.bank_account"],
            actor=BILLING,
            reference=answer.id,
        )
        audit_append(
            action="billing.refund_sent_to_provider",
            actor=BILLING.ref,
            subject=refund.invoice.customer_id,
            data={"refund": refund.pk, "provider_refund": answer.id, "cents": refund.amount_cents},
        )
        return refund


def provider_refunds_send() -> int:
    """Send every approved refund of an online payment (the worker retries refusals)."""
    sent = 0
    for refund_id in (
        Refund.objects.filter(status=Refund.Status.APPROVED, payment__online__isnull=False)
        .exclude(held_reason=Refund.CHARGEBACK)
        .values_list("pk", flat=True)
    ):
        try:
            if provider_refund_send(refund_id).status == Refund.Status.SENT:
                sent += 1
        except mollie.ProviderError:
            logger.exception("refund %s could not be sent to the payment provider", refund_id)
    return sent
