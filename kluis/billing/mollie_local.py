"""A local payment service provider that speaks Mollie's Payments API (v2).

Tests and `make run` talk to it instead of api.mollie.com; its base URL is the
setting KLUIS_MOLLIE_API_URL. It keeps its payments in memory and does what Mollie
does on the wire:

- `POST /v2/payments` (JSON, `Authorization: Bearer test_…`): a payment in status
  `open`, with `_links.checkout` to a hosted checkout page; an `Idempotency-Key`
  header given again returns the first answer;
- `GET /v2/payments/{id}`: the payment, with `details.consumerName`,
  `consumerAccount` and `consumerBic` once paid by iDEAL;
- `POST /v2/payments/{id}/refunds` and `GET /v2/payments/{id}/refunds/{id}`;
- `GET /v2/settlements/{id}` (the id `stl_…`, or the bank reference in its place, as
  Mollie allows) and `GET /v2/settlements/{id}/payments`, `/refunds` and
  `/chargebacks`: the payouts `settle()` made of the paid payments not settled
  before, less the refunds and chargebacks not settled before (a refund or chargeback
  is taken from the next payout, whichever payout held its payment) and a fee per
  payment, as Mollie's Settlements API describes them: the periods list the revenue
  (refunds and chargebacks as negative lines) and the costs; each refund and
  chargeback carries a negative `settlementAmount` (Mollie wants an organisation
  access token there; this stand-in takes the same API key);
- `chargeback()`: the payer's bank takes a paid payment back, as a test sets it up:
  the payment stays `paid`, gains `amountChargedBack` and `_links.chargebacks`, and
  its webhook is called; `GET /v2/payments/{id}/chargebacks` lists them and
  `GET /v2/payments/{id}/chargebacks/{chb_…}` shows one; `chargeback_reverse()` sets
  a chargeback's `reversedAt` (the bank withdrew it) and calls the webhook again;
- errors as Mollie sends them: `application/hal+json` with `status`, `title`,
  `detail` (and `field` for a 422);
- the hosted checkout page, where the demo payer picks what their bank does (paid,
  failed, canceled, expired, or leave it open); on a change of status it POSTs
  `id=tr_…` (form-encoded, nothing else) to the payment's webhookUrl, then sends the
  payer to the redirectUrl with a 303.

Run it with `manage.py mollie_local`; tests start it in a thread (`serve()`).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import secrets
import string
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DOCS = "https://docs.mollie.com/overview/handling-errors"
AMOUNT = re.compile(r"^\d{1,9}\.\d{2}$")
CHOICES = ("paid", "failed", "canceled", "expired", "open")
ALPHABET = string.ascii_letters + string.digits


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(10))


@dataclass
class WebhookCall:
    url: str
    body: str
    status: int  # the HTTP status our webhook answered, 0 when it could not be reached


@dataclass
class State:
    api_key: str
    base_url: str = ""
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    settlements: dict[str, dict[str, Any]] = field(default_factory=dict)
    chargebacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Which settlement each paid payment, refund and chargeback was paid out in.
    settled_in: dict[str, str] = field(default_factory=dict)
    # Mollie's fee per iDEAL payment, kept back from the payout (cents).
    fee_cents: int = 32
    # Items per page of a list when the request names no `limit` (Mollie's default).
    page_size: int = 50
    organisation: str = "1234567"
    replies: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    webhook_calls: list[WebhookCall] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Tests deliver webhook calls themselves (url, form body) -> HTTP status; else HTTP.
    deliver: Callable[[str, str], int] | None = None
    # What the demo payer's bank reports when they pay.
    payer_name: str = "T. Testbetaler"
    payer_account: str = "NL02ABNA0123456789"
    payer_bic: str = "ABNANL2A"

    def set_status(self, payment_id: str, status: str) -> None:
        """Move a payment as the payer's bank would, then call its webhook once."""
        with self.lock:
            payment = self.payments[payment_id]
            if payment["status"] != "open" or status == "open":
                return
            payment["status"] = status
            stamp = _now()
            payment.pop("expiresAt", None)
            payment["isCancelable"] = False
            if status == "paid":
                payment["paidAt"] = stamp
                payment["amountRefunded"] = {"currency": "EUR", "value": "0.00"}
                payment["amountRemaining"] = dict(payment["amount"])
                payment["details"] = {
                    "consumerName": self.payer_name,
                    "consumerAccount": self.payer_account,
                    "consumerBic": self.payer_bic,
                }
            else:
                payment[f"{status}At"] = stamp
            payment["_links"].pop("checkout", None)
            webhook = payment.get("webhookUrl") or ""
        if webhook:
            self.call_webhook(payment_id, webhook)

    def chargeback(
        self, payment_id: str, cents: int | None = None, *, notify: bool = True
    ) -> dict[str, Any]:
        """The payer's bank takes back (part of) a paid payment: a chargeback that the
        next settlement deducts. As at Mollie, the payment keeps its status `paid`, shows
        the total in `amountChargedBack` and links its chargebacks, and its webhook is
        called (`notify=False`: not, as when the merchant's webhook was down)."""
        with self.lock:
            payment = self.payments[payment_id]
            assert payment["status"] == "paid", "only a paid payment is charged back"
            amount = _value(cents if cents is not None else _cents(payment["amount"]["value"]))
            chargeback_id = _new_id("chb_")
            chargeback = {
                "resource": "chargeback",
                "id": chargeback_id,
                "amount": {"currency": "EUR", "value": amount},
                "settlementAmount": {"currency": "EUR", "value": f"-{amount}"},
                "createdAt": _now(),
                "reason": {"code": "MD06", "description": "Refund request by end customer"},
                "reversedAt": None,
                "paymentId": payment_id,
                "_links": {
                    "self": {
                        "href": f"{self.base_url}/v2/payments/{payment_id}"
                        f"/chargebacks/{chargeback_id}",
                        "type": "application/hal+json",
                    },
                    "payment": {
                        "href": f"{self.base_url}/v2/payments/{payment_id}",
                        "type": "application/hal+json",
                    },
                },
            }
            self.chargebacks[chargeback_id] = chargeback
            charged = _cents(payment.get("amountChargedBack", {}).get("value", "0.00"))
            payment["amountChargedBack"] = {
                "currency": "EUR",
                "value": _value(charged + _cents(amount)),
            }
            payment["_links"]["chargebacks"] = {
                "href": f"{self.base_url}/v2/payments/{payment_id}/chargebacks",
                "type": "application/hal+json",
            }
            webhook = payment.get("webhookUrl") or ""
            answer = dict(json.loads(json.dumps(chargeback)))
        if webhook and notify:
            self.call_webhook(payment_id, webhook)
        return answer

    def chargeback_reverse(self, chargeback_id: str, *, notify: bool = True) -> None:
        """The payer's bank withdraws its chargeback: the chargeback gets `reversedAt`,
        the payment's `amountChargedBack` goes down again and its webhook is called."""
        with self.lock:
            chargeback = self.chargebacks[chargeback_id]
            if chargeback["reversedAt"] is not None:
                return
            chargeback["reversedAt"] = _now()
            payment = self.payments[chargeback["paymentId"]]
            charged = _cents(payment["amountChargedBack"]["value"])
            left = charged - _cents(chargeback["amount"]["value"])
            payment["amountChargedBack"] = {"currency": "EUR", "value": _value(left)}
            webhook = payment.get("webhookUrl") or ""
        if webhook and notify:
            self.call_webhook(chargeback["paymentId"], webhook)

    def settle(self) -> dict[str, Any] | None:
        """Pay out the paid payments not paid out before, less the refunds and
        chargebacks not settled before and the fees, as one settlement with a bank
        reference (organisation.YYMM.sequence); None if there is nothing to settle."""
        with self.lock:
            paid = [
                p
                for p in self.payments.values()
                if p["status"] == "paid" and p["id"] not in self.settled_in
            ]
            refunds = [r for r in self.refunds.values() if r["id"] not in self.settled_in]
            chargebacks = [c for c in self.chargebacks.values() if c["id"] not in self.settled_in]
            if not (paid or refunds or chargebacks):
                return None
            settlement_id = _new_id("stl_")
            stamp = dt.datetime.now(dt.UTC)
            reference = f"{self.organisation}.{stamp:%y%m}.{len(self.settlements) + 1:02d}"
            gross = sum(_cents(p["amount"]["value"]) for p in paid)
            refunded = sum(_cents(r["amount"]["value"]) for r in refunds)
            charged_back = sum(_cents(c["amount"]["value"]) for c in chargebacks)
            fees = self.fee_cents * len(paid)
            revenue = [
                _revenue("iDEAL", len(paid), gross),
                _revenue("Refunds iDEAL", len(refunds), -refunded),
                _revenue("Chargebacks iDEAL", len(chargebacks), -charged_back),
            ]
            link = f"{self.base_url}/v2/settlements/{settlement_id}"
            settlement = {
                "resource": "settlement",
                "id": settlement_id,
                "reference": reference,
                "createdAt": stamp.replace(microsecond=0).isoformat(),
                "settledAt": stamp.replace(microsecond=0).isoformat(),
                "status": "paidout",
                "amount": {
                    "currency": "EUR",
                    "value": _value(gross - refunded - charged_back - fees),
                },
                # What was paid in and what it cost, per month, as Mollie lists it.
                "periods": {
                    f"{stamp:%Y}": {
                        f"{stamp:%m}": {
                            "revenue": [line for line in revenue if line["count"]],
                            "costs": [
                                {
                                    "description": "iDEAL",
                                    "method": "ideal",
                                    "count": len(paid),
                                    "rate": {
                                        "fixed": {
                                            "currency": "EUR",
                                            "value": _value(self.fee_cents),
                                        },
                                        "percentage": None,
                                    },
                                    "amountNet": {"currency": "EUR", "value": _value(fees)},
                                    "amountVat": None,
                                    "amountGross": {"currency": "EUR", "value": _value(fees)},
                                }
                            ],
                        }
                    }
                },
                "_links": {
                    "self": {"href": link, "type": "application/hal+json"},
                    "payments": {"href": f"{link}/payments", "type": "application/hal+json"},
                    "refunds": {"href": f"{link}/refunds", "type": "application/hal+json"},
                    "chargebacks": {
                        "href": f"{link}/chargebacks",
                        "type": "application/hal+json",
                    },
                },
            }
            self.settlements[settlement_id] = settlement
            for item in (*paid, *refunds, *chargebacks):
                self.settled_in[item["id"]] = settlement_id
                item["settlementId"] = settlement_id
            for refund in refunds:
                refund["status"] = "refunded"
                refund["settlementAmount"] = {
                    "currency": "EUR",
                    "value": f"-{refund['amount']['value']}",
                }
            return dict(json.loads(json.dumps(settlement)))

    def call_webhook(self, payment_id: str, url: str) -> int:
        body = urllib.parse.urlencode({"id": payment_id})
        if self.deliver is not None:
            status = self.deliver(url, body)
            with self.lock:
                self.webhook_calls.append(WebhookCall(url, body, status))
            return status
        request = urllib.request.Request(  # noqa: S310 - the webhookUrl kluis gave, http(s)
            url,
            data=body.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError):
            status = 0
        with self.lock:
            self.webhook_calls.append(WebhookCall(url, body, status))
        return status


def _error(status: int, detail: str, field_name: str = "") -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {
        "status": status,
        "title": HTTPStatus(status).phrase,
        "detail": detail,
        "_links": {"documentation": {"href": DOCS, "type": "text/html"}},
    }
    if field_name:
        body["field"] = field_name
    return status, body


def _cents(value: str) -> int:
    whole, _, fraction = value.partition(".")
    return int(whole) * 100 + int(fraction)


def _value(cents: int) -> str:
    sign, cents = ("-", -cents) if cents < 0 else ("", cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _revenue(description: str, count: int, cents: int) -> dict[str, Any]:
    """A line of a settlement period's revenue (negative for refunds and chargebacks)."""
    return {
        "description": description,
        "method": "ideal",
        "count": count,
        "amountNet": {"currency": "EUR", "value": _value(cents)},
        "amountVat": None,
        "amountGross": {"currency": "EUR", "value": _value(cents)},
    }


def create_payment(state: State, data: Any) -> tuple[int, dict[str, Any]]:
    if not isinstance(data, dict):
        return _error(400, "The request body is not a JSON object.")
    amount = data.get("amount")
    if not isinstance(amount, dict) or not isinstance(amount.get("value"), str):
        return _error(422, "The amount is invalid", "amount")
    if amount.get("currency") != "EUR":
        return _error(422, "The currency is not supported", "amount.currency")
    if not AMOUNT.match(amount["value"]) or _cents(amount["value"]) < 1:
        return _error(422, "The amount contains an invalid value", "amount.value")
    for name in ("description", "redirectUrl"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            return _error(422, f"The {name} is required", name)
    if data.get("method") not in (None, "ideal"):
        return _error(422, "The payment method is invalid", "method")
    payment_id = _new_id("tr_")
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    payment = {
        "resource": "payment",
        "id": payment_id,
        "mode": "test",
        "createdAt": created.isoformat(),
        "amount": {"currency": "EUR", "value": amount["value"]},
        "description": data["description"],
        "method": "ideal",
        "metadata": data.get("metadata"),
        "status": "open",
        "isCancelable": False,
        "expiresAt": (created + dt.timedelta(minutes=15)).isoformat(),
        "locale": data.get("locale") or "nl_NL",
        "profileId": "pfl_kluislocal",
        "sequenceType": "oneoff",
        "redirectUrl": data["redirectUrl"],
        "webhookUrl": data.get("webhookUrl") or None,
        "_links": {
            "self": {
                "href": f"{state.base_url}/v2/payments/{payment_id}",
                "type": "application/hal+json",
            },
            "checkout": {"href": f"{state.base_url}/checkout/{payment_id}", "type": "text/html"},
            "documentation": {
                "href": "https://docs.mollie.com/reference/create-payment",
                "type": "text/html",
            },
        },
    }
    with state.lock:
        state.payments[payment_id] = payment
        return 201, json.loads(json.dumps(payment))


def get_payment(state: State, payment_id: str) -> tuple[int, dict[str, Any]]:
    with state.lock:
        payment = state.payments.get(payment_id)
        if payment is None:
            return _error(404, f"No payment exists with token {payment_id}.")
        return 200, json.loads(json.dumps(payment))


def create_refund(state: State, payment_id: str, data: Any) -> tuple[int, dict[str, Any]]:
    with state.lock:
        payment = state.payments.get(payment_id)
        if payment is None:
            return _error(404, f"No payment exists with token {payment_id}.")
        if not isinstance(data, dict):
            return _error(400, "The request body is not a JSON object.")
        amount = data.get("amount")
        if (
            not isinstance(amount, dict)
            or amount.get("currency") != "EUR"
            or not isinstance(amount.get("value"), str)
            or not AMOUNT.match(amount["value"])
            or _cents(amount["value"]) < 1
        ):
            return _error(422, "The amount is invalid", "amount")
        if payment["status"] != "paid":
            return _error(422, "The payment cannot be refunded: it has not been paid.")
        remaining = _cents(payment["amountRemaining"]["value"])
        cents = _cents(amount["value"])
        if cents > remaining:
            return _error(
                422,
                f"The amount is higher than the amount that can be refunded ({_value(remaining)}).",
                "amount",
            )
        refund_id = _new_id("re_")
        refund = {
            "resource": "refund",
            "id": refund_id,
            "amount": {"currency": "EUR", "value": amount["value"]},
            "description": str(data.get("description") or ""),
            "metadata": data.get("metadata"),
            "status": "pending",
            "paymentId": payment_id,
            "createdAt": _now(),
            "_links": {
                "self": {
                    "href": f"{state.base_url}/v2/payments/{payment_id}/refunds/{refund_id}",
                    "type": "application/hal+json",
                },
                "payment": {
                    "href": f"{state.base_url}/v2/payments/{payment_id}",
                    "type": "application/hal+json",
                },
            },
        }
        state.refunds[refund_id] = refund
        refunded = _cents(payment["amountRefunded"]["value"]) + cents
        payment["amountRefunded"] = {"currency": "EUR", "value": _value(refunded)}
        payment["amountRemaining"] = {"currency": "EUR", "value": _value(remaining - cents)}
        return 201, json.loads(json.dumps(refund))


def get_refund(state: State, payment_id: str, refund_id: str) -> tuple[int, dict[str, Any]]:
    with state.lock:
        refund = state.refunds.get(refund_id)
        if refund is None or refund["paymentId"] != payment_id:
            return _error(404, f"No refund exists with token {refund_id}.")
        return 200, json.loads(json.dumps(refund))


def list_chargebacks(state: State, payment_id: str) -> tuple[int, dict[str, Any]]:
    """`GET /v2/payments/{id}/chargebacks`: every chargeback of the payment, oldest
    first (Mollie's list object; one page: a payment has few)."""
    with state.lock:
        if payment_id not in state.payments:
            return _error(404, f"No payment exists with token {payment_id}.")
        items = [
            json.loads(json.dumps(c))
            for c in state.chargebacks.values()
            if c["paymentId"] == payment_id
        ]
    url = f"{state.base_url}/v2/payments/{payment_id}/chargebacks"
    return 200, {
        "count": len(items),
        "_embedded": {"chargebacks": items},
        "_links": {
            "self": {"href": url, "type": "application/hal+json"},
            "previous": None,
            "next": None,
        },
    }


def get_chargeback(state: State, payment_id: str, chargeback_id: str) -> tuple[int, dict[str, Any]]:
    with state.lock:
        chargeback = state.chargebacks.get(chargeback_id)
        if chargeback is None or chargeback["paymentId"] != payment_id:
            return _error(404, f"No chargeback exists with token {chargeback_id}.")
        return 200, json.loads(json.dumps(chargeback))


def _settlement(state: State, key: str) -> dict[str, Any] | None:
    found = state.settlements.get(key)
    if found is None:  # Mollie takes the bank reference in place of the id
        found = next((s for s in state.settlements.values() if s["reference"] == key), None)
    return found


def get_settlement(state: State, key: str) -> tuple[int, dict[str, Any]]:
    with state.lock:
        settlement = _settlement(state, key)
        if settlement is None:
            return _error(404, f"No settlement exists with token {key}.")
        return 200, json.loads(json.dumps(settlement))


def list_settlement(
    state: State, key: str, what: str, query: dict[str, list[str]] | None = None
) -> tuple[int, dict[str, Any]]:
    """A settlement's payments, refunds or chargebacks (`what`), a page at a time as
    Mollie pages: `limit` items (at most 250) from the item `from`, and a `next` link
    while more follow."""
    query = query or {}
    source = {
        "payments": state.payments,
        "refunds": state.refunds,
        "chargebacks": state.chargebacks,
    }[what]
    try:
        limit = int((query.get("limit") or [str(state.page_size)])[0])
    except ValueError:
        return _error(400, "The limit is not a number.")
    if not 1 <= limit <= 250:
        return _error(400, "The limit must be between 1 and 250.")
    start = (query.get("from") or [""])[0]
    with state.lock:
        settlement = _settlement(state, key)
        if settlement is None:
            return _error(404, f"No settlement exists with token {key}.")
        ids = [
            item_id
            for item_id, settled in state.settled_in.items()
            if settled == settlement["id"] and item_id in source
        ]
        first = ids.index(start) if start in ids else 0
        shown, rest = ids[first : first + limit], ids[first + limit :]
        items = [json.loads(json.dumps(source[item_id])) for item_id in shown]
    url = f"{state.base_url}/v2/settlements/{settlement['id']}/{what}"

    def link(q: str) -> dict[str, str]:
        return {"href": f"{url}?{q}", "type": "application/hal+json"}

    return 200, {
        "count": len(items),
        "_embedded": {what: items},
        "_links": {
            "self": link(f"limit={limit}" + (f"&from={start}" if start else "")),
            "previous": None,
            "next": link(f"from={rest[0]}&limit={limit}") if rest else None,
        },
    }


SETTLEMENT_PATH = re.compile(r"^/v2/settlements/(stl_[A-Za-z0-9]+|[\d.]+)$")
SETTLEMENT_LIST_PATH = re.compile(
    r"^/v2/settlements/(stl_[A-Za-z0-9]+|[\d.]+)/(payments|refunds|chargebacks)$"
)
PAYMENT_PATH = re.compile(r"^/v2/payments/(tr_[A-Za-z0-9]+)$")
REFUNDS_PATH = re.compile(r"^/v2/payments/(tr_[A-Za-z0-9]+)/refunds$")
REFUND_PATH = re.compile(r"^/v2/payments/(tr_[A-Za-z0-9]+)/refunds/(re_[A-Za-z0-9]+)$")
CHARGEBACKS_PATH = re.compile(r"^/v2/payments/(tr_[A-Za-z0-9]+)/chargebacks$")
CHARGEBACK_PATH = re.compile(r"^/v2/payments/(tr_[A-Za-z0-9]+)/chargebacks/(chb_[A-Za-z0-9]+)$")
CHECKOUT_PATH = re.compile(r"^/checkout/(tr_[A-Za-z0-9]+)$")


class Handler(BaseHTTPRequestHandler):
    server_version = "kluis-mollie-local/1"
    state: State  # set on the class made by serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests and the demo print their own

    # --- plumbing -------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, 1_000_000)) if length > 0 else b""

    def _json(self, status: int, body: dict[str, Any], replayed: bool = False) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/hal+json")
        self.send_header("Content-Length", str(len(data)))
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(data)

    def _html(self, status: int, page: str) -> None:
        data = page.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if self.headers.get("Authorization", "") == f"Bearer {self.state.api_key}":
            return True
        self._json(*_error(401, "Missing authentication, or failed to authenticate"))
        return False

    # --- the API --------------------------------------------------------------------

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if match := CHECKOUT_PATH.match(path):
            self._checkout_page(match.group(1))
            return
        if not self._authorised():
            return
        if match := PAYMENT_PATH.match(path):
            self._json(*get_payment(self.state, match.group(1)))
        elif match := REFUND_PATH.match(path):
            self._json(*get_refund(self.state, match.group(1), match.group(2)))
        elif match := CHARGEBACKS_PATH.match(path):
            self._json(*list_chargebacks(self.state, match.group(1)))
        elif match := CHARGEBACK_PATH.match(path):
            self._json(*get_chargeback(self.state, match.group(1), match.group(2)))
        elif match := SETTLEMENT_PATH.match(path):
            self._json(*get_settlement(self.state, match.group(1)))
        elif match := SETTLEMENT_LIST_PATH.match(path):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            self._json(*list_settlement(self.state, match.group(1), match.group(2), query))
        else:
            self._json(*_error(404, "The resource does not exist."))

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if match := CHECKOUT_PATH.match(path):
            self._checkout_choice(match.group(1))
            return
        if not self._authorised():
            return
        raw = self._body()
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            self._json(*_error(400, "The request body is not valid JSON."))
            return
        key = self.headers.get("Idempotency-Key", "")
        if key:
            with self.state.lock:
                earlier = self.state.replies.get(f"{path} {key}")
            if earlier is not None:
                self._json(*earlier, replayed=True)
                return
        if path == "/v2/payments":
            reply = create_payment(self.state, data)
        elif match := REFUNDS_PATH.match(path):
            reply = create_refund(self.state, match.group(1), data)
        else:
            reply = _error(404, "The resource does not exist.")
        if key and reply[0] < 500:
            with self.state.lock:
                self.state.replies[f"{path} {key}"] = reply
        self._json(*reply)

    def do_DELETE(self) -> None:
        if self._authorised():
            self._json(*_error(422, "This local provider does not cancel payments."))

    # --- the hosted checkout page ---------------------------------------------------

    def _checkout_page(self, payment_id: str) -> None:
        status, payment = get_payment(self.state, payment_id)
        if status != 200:
            self._html(404, "<!doctype html><title>Not found</title><p>Onbekende betaling.</p>")
            return
        if payment["status"] != "open":
            self._redirect(payment["redirectUrl"])
            return
        buttons = "".join(
            f'<button name="status" value="{choice}">{choice}</button> ' for choice in CHOICES
        )
        page = (
            "<!doctype html><html lang=nl><meta charset=utf-8>"
            "<title>iDEAL (lokale testbetaling)</title>"
            "<h1>iDEAL: lokale testbetaling</h1>"
            f"<p>{html.escape(payment['description'])}: € {payment['amount']['value']}</p>"
            "<p>Kies wat je bank doet met deze betaling.</p>"
            f'<form method="post">{buttons}</form></html>'
        )
        self._html(200, page)

    def _checkout_choice(self, payment_id: str) -> None:
        form = urllib.parse.parse_qs(self._body().decode("utf-8", "replace"))
        choice = (form.get("status") or [""])[0]
        with self.state.lock:
            payment = self.state.payments.get(payment_id)
        if payment is None or choice not in CHOICES:
            self._html(400, "<!doctype html><title>Fout</title><p>Ongeldige keuze.</p>")
            return
        self.state.set_status(payment_id, choice)
        self._redirect(payment["redirectUrl"])

    def _redirect(self, url: str) -> None:
        self.send_response(303)
        self.send_header("Location", url)
        self.send_header("Content-Length", "0")
        self.end_headers()


@dataclass
class Running:
    server: ThreadingHTTPServer
    state: State
    thread: threading.Thread

    @property
    def url(self) -> str:
        return self.state.base_url

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def make_server(
    *, api_key: str, host: str = "127.0.0.1", port: int = 0
) -> tuple[ThreadingHTTPServer, State]:
    state = State(api_key=api_key)
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer((host, port), handler)
    state.base_url = f"http://{host}:{server.server_address[1]}"
    return server, state


def serve(*, api_key: str, host: str = "127.0.0.1", port: int = 0) -> Running:
    """Start the provider in a thread (tests); `stop()` ends it."""
    server, state = make_server(api_key=api_key, host=host, port=port)
    thread = threading.Thread(target=server.serve_forever, name="mollie-local", daemon=True)
    thread.start()
    return Running(server, state, thread)
