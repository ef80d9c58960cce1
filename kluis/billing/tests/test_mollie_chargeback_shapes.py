"""The chargebacks list as Mollie's API reference describes it, not as mollie_local
writes it: two pages linked by `_links.next`, a chargeback without the optional
`reason`, times with fractional seconds and `Z`, a `settlementAmount` and `settlementId`,
a reversed one; and the answers kluis must refuse.

A small HTTP server in the test serves these bodies (written here from the reference's
field list, in our own words), so the real client and `payment_chargebacks` read them.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import override_settings

from kluis.billing.mollie import ProviderError, payment_chargebacks

PAYMENT = "tr_7UhSN1zuXS"


def _chargeback(id_: str, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "resource": "chargeback",
        "id": id_,
        "amount": {"currency": "EUR", "value": value},
        "createdAt": "2026-11-30T23:41:07.0Z",
        "reversedAt": None,
        "paymentId": PAYMENT,
        "_links": {
            "self": {"href": "", "type": "application/hal+json"},
            "payment": {"href": "", "type": "application/hal+json"},
        },
        **extra,
    }


class _Mollie(BaseHTTPRequestHandler):
    pages: dict[str, dict[str, Any]] = {}

    def do_GET(self) -> None:
        body = self.pages.get(self.path)
        status = 200 if body is not None else 404
        data = json.dumps(body or {"status": 404, "title": "Not Found"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/hal+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def mollie() -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    pages: dict[str, dict[str, Any]] = {}
    handler = type("Handler", (_Mollie,), {"pages": pages})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with override_settings(KLUIS_MOLLIE_API_URL=base):
            yield base, pages
    finally:
        server.shutdown()
        server.server_close()


def _list(base: str, items: list[dict[str, Any]], next_path: str | None) -> dict[str, Any]:
    path = f"/v2/payments/{PAYMENT}/chargebacks"
    return {
        "count": len(items),
        "_embedded": {"chargebacks": items},
        "_links": {
            "self": {"href": base + path, "type": "application/hal+json"},
            "previous": None,
            "next": {"href": base + next_path, "type": "application/hal+json"}
            if next_path
            else None,
            "documentation": {"href": "", "type": "text/html"},
        },
    }


def test_two_pages_an_absent_reason_and_a_reversal_are_read_as_the_reference_has_them(
    mollie: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    base, pages = mollie
    first = _chargeback(
        "chb_n9z0tp",
        "43.38",
        reason={"code": "AC01", "description": "Account identifier incorrect"},
        settlementAmount={"currency": "EUR", "value": "-43.38"},
        settlementId="stl_jDk30akdN",
    )
    # No `reason` (the reference gives it only where the method reports one); reversed.
    second = _chargeback(
        "chb_Xa1b2C",
        "5.00",
        createdAt="2026-12-01T08:00:00.123456789Z",
        reversedAt="2026-12-03T10:15:00+00:00",
    )
    path = f"/v2/payments/{PAYMENT}/chargebacks"
    pages[path] = _list(base, [first], f"{path}?from=chb_Xa1b2C&limit=1")
    pages[f"{path}?from=chb_Xa1b2C&limit=1"] = _list(base, [second], None)

    found = payment_chargebacks(PAYMENT)

    assert [(c.id, c.amount_cents, c.reason_code) for c in found] == [
        ("chb_n9z0tp", 4338, "AC01"),
        ("chb_Xa1b2C", 500, ""),
    ]
    assert found[0].created_at == dt.datetime(2026, 11, 30, 23, 41, 7, tzinfo=dt.UTC)
    assert found[0].reversed_at is None
    assert found[1].created_at == dt.datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=dt.UTC)
    assert found[1].reversed_at == dt.datetime(2026, 12, 3, 10, 15, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"paymentId": "tr_someoneElse"}, "another payment"),
        ({"amount": {"currency": "USD", "value": "43.38"}}, "is not one"),
        ({"amount": {"currency": "EUR", "value": "0.00"}}, "is not one"),
        ({"id": "re_4qqhO89gsT"}, "is not one"),
        ({"createdAt": "30-11-2026 23:41"}, "ISO 8601"),
    ],
)
def test_an_answer_that_is_not_a_chargeback_of_this_payment_is_refused(
    mollie: tuple[str, dict[str, dict[str, Any]]], change: dict[str, Any], words: str
) -> None:
    base, pages = mollie
    item = {**_chargeback("chb_n9z0tp", "43.38"), **change}
    pages[f"/v2/payments/{PAYMENT}/chargebacks"] = _list(base, [item], None)
    with pytest.raises(ProviderError, match=words):
        payment_chargebacks(PAYMENT)
