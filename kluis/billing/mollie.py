"""The payment service provider: Mollie's Payments API, through Mollie's own client.

mollie-api-python (Mollie's official, maintained client) does the HTTP; this module
is the only place that knows its shapes, and gives billing typed answers. Its base
URL is a setting (KLUIS_MOLLIE_API_URL), so tests and the demo talk to the local
server in kluis/billing/mollie_local.py, which speaks the same API.

What Mollie's model requires (docs.mollie.com, Payments API): a payment is created
with an amount as a decimal string, a description, a redirectUrl and a webhookUrl;
the webhook then POSTs only `id=tr_…`, and the merchant fetches the payment to learn
its status. Refunds are a POST on the payment.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from mollie.api.client import Client
from mollie.api.error import Error as MollieError
from mollie.api.error import NotFoundError
from mollie.api.objects.payment import Payment as MolliePayment
from mollie.api.resources.chargebacks import PaymentChargebacks
from mollie.api.resources.refunds import PaymentRefunds

PAID = "paid"
OPEN = "open"
PENDING = "pending"
AUTHORIZED = "authorized"
# Final without money: a new payment has to be started.
ENDED = frozenset({"canceled", "expired", "failed"})
STATUSES = frozenset({OPEN, PENDING, AUTHORIZED, PAID, *ENDED})


class ProviderError(Exception):
    """The provider could not be reached or refused; `unknown` when it has no such payment."""

    def __init__(self, message: str, *, unknown: bool = False) -> None:
        super().__init__(message)
        self.unknown = unknown


@dataclass(frozen=True)
class ProviderPayment:
    id: str
    status: str
    amount_cents: int
    currency: str
    checkout_url: str
    paid_at: dt.datetime | None
    metadata: dict[str, Any]
    # The payer's bank account, when the provider returns it (iDEAL does, once paid).
    consumer_name: str
    consumer_account: str
    # What the payer's bank took back (`amountChargedBack`; 0 when Mollie shows none).
    charged_back_cents: int = 0


@dataclass(frozen=True)
class ProviderRefund:
    id: str
    status: str
    amount_cents: int


def cents_to_value(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def value_to_cents(amount: Any, *, signed: bool = False) -> tuple[int, str]:
    """Mollie's amount object, {"currency": "EUR", "value": "10.00"}, as cents;
    `signed`: a value below zero ("-10.00") is allowed, as in a settlement."""
    if not isinstance(amount, dict):
        raise ProviderError("the provider's answer has no amount")
    value = str(amount.get("value", ""))
    negative = signed and value.startswith("-")
    whole, _, fraction = value.removeprefix("-" if negative else "").partition(".")
    if not whole.isdigit() or len(fraction) != 2 or not fraction.isdigit():
        raise ProviderError(f"the provider's amount {value!r} is not a decimal with 2 places")
    cents = int(whole) * 100 + int(fraction)
    return -cents if negative else cents, str(amount.get("currency", ""))


def _datetime(raw: Any) -> dt.datetime | None:
    if not raw:
        return None
    try:
        return dt.datetime.fromisoformat(str(raw))
    except ValueError:
        raise ProviderError(f"the provider's time {raw!r} is not ISO 8601") from None


def _client() -> Client:
    client = Client(api_endpoint=settings.KLUIS_MOLLIE_API_URL, timeout=(3, 15), retry=2)
    client.set_api_key(settings.KLUIS_MOLLIE_API_KEY)
    client.set_user_agent_component("kluis", "1")
    return client


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _payment(data: dict[str, Any]) -> ProviderPayment:
    status = str(data.get("status", ""))
    if status not in STATUSES:
        raise ProviderError(f"the provider's payment status {status!r} is unknown")
    cents, currency = value_to_cents(data.get("amount"))
    details = _dict(data.get("details"))
    checkout = _dict(_dict(data.get("_links")).get("checkout"))
    metadata = data.get("metadata")
    return ProviderPayment(
        id=str(data.get("id", "")),
        status=status,
        amount_cents=cents,
        currency=currency,
        checkout_url=str(checkout.get("href", "")),
        paid_at=_datetime(data.get("paidAt")),
        metadata=metadata if isinstance(metadata, dict) else {},
        consumer_name=str(details.get("consumerName") or ""),
        consumer_account=str(details.get("consumerAccount") or ""),
        charged_back_cents=(
            value_to_cents(data["amountChargedBack"])[0] if data.get("amountChargedBack") else 0
        ),
    )


def _call(what: str, call: Any) -> Any:
    try:
        return call()
    except NotFoundError as exc:
        raise ProviderError(f"{what}: {exc}", unknown=True) from None
    except MollieError as exc:
        raise ProviderError(f"{what}: {exc}") from None


def payment_create(
    *,
    amount_cents: int,
    description: str,
    redirect_url: str,
    webhook_url: str,
    locale: str,
    metadata: dict[str, str],
    idempotency_key: str,
) -> ProviderPayment:
    """Create an iDEAL payment; the customer is sent to its checkout_url."""
    data = {
        "amount": {"currency": "EUR", "value": cents_to_value(amount_cents)},
        "description": description,
        "redirectUrl": redirect_url,
        "webhookUrl": webhook_url,
        "method": "ideal",
        "locale": "en_US" if locale == "en" else "nl_NL",
        "metadata": metadata,
    }
    client = _client()
    answer = _call(
        "creating the payment",
        lambda: client.payments.create(data, idempotency_key=idempotency_key),
    )
    return _payment(dict(answer))


def payment_get(provider_id: str) -> ProviderPayment:
    """The payment as the provider knows it now: the only source of its status."""
    client = _client()
    return _payment(dict(_call("fetching the payment", lambda: client.payments.get(provider_id))))


def refund_create(
    *, provider_id: str, amount_cents: int, description: str, idempotency_key: str
) -> ProviderRefund:
    """Refund part or all of a paid payment to the account it came from."""
    client = _client()
    parent = MolliePayment({"id": provider_id}, client)  # type: ignore[no-untyped-call]
    refunds = PaymentRefunds(client, parent)
    data = {
        "amount": {"currency": "EUR", "value": cents_to_value(amount_cents)},
        "description": description,
    }
    answer = dict(
        _call(
            "refunding the payment",
            lambda: refunds.create(data, idempotency_key=idempotency_key),
        )
    )
    cents, _currency = value_to_cents(answer.get("amount"))
    return ProviderRefund(
        id=str(answer.get("id", "")), status=str(answer.get("status", "")), amount_cents=cents
    )


@dataclass(frozen=True)
class ProviderChargeback:
    """A chargeback of a payment (Chargebacks API): the payer's bank took money back;
    `reversed_at` once the bank withdrew it again."""

    id: str
    payment_id: str
    amount_cents: int
    reason_code: str
    created_at: dt.datetime | None
    reversed_at: dt.datetime | None


CHARGEBACK_ID = re.compile(r"^chb_[A-Za-z0-9]{1,64}$")


def payment_chargebacks(provider_id: str) -> list[ProviderChargeback]:
    """Every chargeback of the payment (`GET /v2/payments/{id}/chargebacks`, all pages)."""
    client = _client()
    parent = MolliePayment({"id": provider_id}, client)  # type: ignore[no-untyped-call]
    found = []
    for item in _listed("the chargebacks of the payment", PaymentChargebacks(client, parent)):
        chargeback_id = str(item.get("id", ""))
        if not CHARGEBACK_ID.match(chargeback_id):
            raise ProviderError(f"the provider's chargeback id {chargeback_id!r} is not one")
        if str(item.get("paymentId", "")) != provider_id:
            raise ProviderError("the provider listed a chargeback of another payment")
        cents, currency = value_to_cents(item.get("amount"))
        if currency != "EUR" or cents <= 0:
            raise ProviderError(f"the chargeback's amount {cents} {currency!r} is not one")
        reason = _dict(item.get("reason"))
        found.append(
            ProviderChargeback(
                id=chargeback_id,
                payment_id=provider_id,
                amount_cents=cents,
                reason_code=str(reason.get("code") or "")[:16],
                created_at=_datetime(item.get("createdAt")),
                reversed_at=_datetime(item.get("reversedAt")),
            )
        )
    return found


@dataclass(frozen=True)
class ProviderSettlement:
    """A payout as the provider describes it (Settlements API)."""

    id: str
    reference: str
    amount_cents: int
    currency: str
    # The provider's costs kept back from the payout, when its periods state them.
    fees_cents: int | None
    # (payment id, amount in cents) of every payment the payout settles.
    payments: list[tuple[str, int]]
    # The refunds and chargebacks the payout deducts (of payments of this payout or an
    # earlier one): (refund or chargeback id, payment id, amount in cents, positive).
    refunds: list[tuple[str, str, int]] = field(default_factory=list)
    chargebacks: list[tuple[str, str, int]] = field(default_factory=list)


def _settlement_client() -> Client:
    """Mollie serves settlements to an organisation access token, not to an API key;
    without KLUIS_MOLLIE_ORGANISATION_TOKEN the API key is tried (the local provider
    takes it; Mollie itself refuses, and the check says so)."""
    token = settings.KLUIS_MOLLIE_ORGANISATION_TOKEN
    if not token:
        return _client()
    client = Client(api_endpoint=settings.KLUIS_MOLLIE_API_URL, timeout=(3, 15), retry=2)
    client.set_access_token(token)
    client.set_user_agent_component("kluis", "1")
    return client


def _costs(periods: Any) -> int | None:
    """The costs a settlement's periods list ({year: {month: {"costs": [...]}}}), as
    cents of their amountGross; None when it lists no periods."""
    if not isinstance(periods, dict) or not periods:
        return None
    total = 0
    for months in periods.values():
        for period in _dict(months).values():
            for cost in _dict(period).get("costs") or []:
                cents, currency = value_to_cents(_dict(cost).get("amountGross"), signed=True)
                if currency != "EUR":
                    raise ProviderError(f"the provider's costs are in {currency!r}")
                total += cents
    return total


def _listed(what: str, resource: Any) -> list[dict[str, Any]]:
    """Every item of a list (a settlement's payments, refunds or chargebacks, or a
    payment's chargebacks), all pages."""
    items: list[dict[str, Any]] = []
    page = _call(f"listing {what}", lambda: resource.list())
    while page:
        items += [dict(item) for item in page]
        page = _call(f"listing {what}", page.get_next) if page.has_next() else None
    return items


def _deductions(items: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(id, payment id, cents) of refunds or chargebacks: what each took from the
    payout (its settlementAmount, negative), else its amount."""
    found = []
    for item in items:
        cents, currency = value_to_cents(
            item.get("settlementAmount") or item.get("amount"), signed=True
        )
        if currency != "EUR":
            raise ProviderError(f"a deduction from the payout is in {currency!r}")
        found.append((str(item.get("id", "")), str(item.get("paymentId", "")), abs(cents)))
    return found


def settlement_get(reference: str) -> ProviderSettlement:
    """The settlement with this bank reference, the payments it pays out and the
    refunds and chargebacks it deducts."""
    client = _settlement_client()
    settlement = _call("fetching the settlement", lambda: client.settlements.get(reference))
    data = dict(settlement)
    cents, currency = value_to_cents(data.get("amount"), signed=True)
    payments = []
    for payment in _listed("the settlement's payments", settlement.payments):
        amount, _currency = value_to_cents(payment.get("amount"))
        payments.append((str(payment.get("id", "")), amount))
    return ProviderSettlement(
        id=str(data.get("id", "")),
        reference=str(data.get("reference", "")),
        amount_cents=cents,
        currency=currency,
        fees_cents=_costs(data.get("periods")),
        payments=payments,
        refunds=_deductions(_listed("the settlement's refunds", settlement.refunds)),
        chargebacks=_deductions(_listed("the settlement's chargebacks", settlement.chargebacks)),
    )
