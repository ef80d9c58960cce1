"""Ordering by script: what must be accepted for an order, and placing it.

`GET /legal` answers, for the names and products a script means to order, which
documents the order records as accepted (the checkout's: agreement and processor
agreement; with a name at a registry outside the EU the WHOIS/RDAP notice and the
consent to send the registrant's data there; for a consumer the withdrawal information
and, when asked, the request to start at once), each with its version, its text and
the SHA-256 of that text, in the request's language. `POST /orders` names each of them
in `accept` by version and hash; anything but exactly the current texts due is a 409
problem listing them, and nothing is ordered.

The order is the checkout's own: the shop's checkout form checks what the account
lacks (a VAT or KvK number, a KvK extract), `kluis.shop.checkout` builds the cart and
asks the registries, and `shop.services.order_place` records the acceptances (with the
request's address, as the checkout, and the token as their channel), the audit entry
and the one confirmation mail; invoicing and delivery follow as for any order.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import Query, Schema, Status
from pydantic import Field

from kluis.accounts.http import client_address
from kluis.accounts.models import Customer, LegalForm
from kluis.api import customers
from kluis.api.auth import caller_of, customer_of, guard
from kluis.api.idempotency import idempotent
from kluis.api.problems import Problem, form_problem
from kluis.api.schemas import ERRORS, DocumentOut, Input, OrderOut
from kluis.shop import checkout, consumer, documents, services
from kluis.shop.cart import Cart
from kluis.shop.domains import registry_named
from kluis.shop.forms import CheckoutForm, domain_shown
from kluis.shop.models import KvkExtract, Order
from kluis.shop.views import ERRORS as SHOP_ERRORS

# GET /orders is the customers' router's: one path, one router (ninja answers a path
# from the first router that has it).
router = customers.router
WRITE = guard("orders:write")

EXTRACT_MAX = 160_000
# A product's code is a slug; a name is checked by the shop's own form, but no control
# character gets as far as a query.
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$")]
Name = Annotated[str, Field(min_length=3, max_length=90, pattern=r"^[^\x00-\x20\x7f]+$")]


class LegalQuery(Schema):
    product: list[Code] = Field([], max_length=20, description="a product code, once per product")
    domain: list[Name] = Field(
        [], max_length=20, description="a full name to register, such as voorbeeld.nl"
    )
    start_now: bool = Field(
        False, description="a consumer asks us to start before the withdrawal period ends"
    )


class NonEuOut(Schema):
    domain: str
    registry: str = Field(description="the registry that would receive the data, and its country")


class LineOut(Schema):
    kind: Literal["product", "domain"]
    item: str
    price_cents: int
    period: Literal["month", "year"]


class LegalOut(Schema):
    language: Literal["nl", "en"] = Field(description="the language of the texts and the order")
    consumer: bool = Field(
        description="you order as a consumer: you may withdraw within 14 days; without "
        "start_now nothing is delivered before that period ends"
    )
    lines: list[LineOut]
    total_cents: int = Field(description="due now: the first period of every line, incl. btw")
    non_eu: list[NonEuOut] = Field(
        description="names whose registry is outside the EU: accepting whois_notice is "
        "your express consent to send the registrant's data there"
    )
    documents: list[DocumentOut] = Field(description="every document to name in `accept`")
    order_button: str = Field(description="what the order means, as the checkout's button")


class Accepted(Input):
    version: str = Field(min_length=1, max_length=20)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class AcceptIn(Input):
    agreement: Accepted | None = None
    processor_agreement: Accepted | None = None
    whois_notice: Accepted | None = None
    withdrawal_info: Accepted | None = None
    start_request: Accepted | None = None


class OrderIn(Input):
    products: list[Code] = Field([], max_length=20, description="product codes")
    domains: list[Name] = Field([], max_length=20, description="full names to register")
    start_now: bool = Field(
        False, description="consumers only: start before the withdrawal period ends"
    )
    notes: str = Field("", max_length=2000)
    vat_number: str | None = Field(
        None, max_length=20, description="an EU business outside NL without one on file"
    )
    kvk_number: str | None = Field(
        None, max_length=8, description="a Dutch business registering a name, without one on file"
    )
    legal_form: str | None = Field(
        None,
        max_length=20,
        description="a Dutch business registering a name, without one on file: its legal "
        "form as in the Handelsregister, one of " + ", ".join(LegalForm.values),
    )
    kvk_extract_base64: str | None = Field(
        None,
        # 120 kB of file; so that even a longer value, escaped as JSON, stays under the
        # API's body limit and is answered as invalid input, not as a body too large.
        max_length=EXTRACT_MAX,
        description="a Dutch business's first name: a recent extract (PDF, PNG or JPEG) of "
        "at most 120 kB, base64; a larger one through the shop's checkout",
    )
    accept: AcceptIn = Field(
        default_factory=AcceptIn,
        description="each document of GET /legal by version and sha256; left out, the "
        "answer is a 409 naming them",
    )


def _language() -> str:
    language = get_language() or "nl"
    return language if language in documents.LANGUAGES else "nl"


def _refused(exc: checkout.ItemsRefused) -> Problem:
    errors = [
        {"location": "body", "field": r.field, "code": "refused", "message": r.message}
        | ({"item": r.item} if r.item else {})
        for r in exc.refused
    ]
    return Problem("invalid", _("Niet alles kan worden besteld."), errors=errors)


def _documents_out(due: list[documents.DocumentText]) -> list[dict[str, Any]]:
    return [
        {
            "kind": d.kind,
            "title": d.title,
            "version": d.version,
            "language": d.language,
            "sha256": d.sha256,
            "url": settings.KLUIS_BASE_URL
            + reverse(
                "shop:document", kwargs={"kind": d.kind, "version": d.version, "lang": d.language}
            ),
            "text": d.text,
        }
        for d in due
    ]


def _cart(token: str, products: list[str], domains: list[str], *, empty_ok: bool = False) -> Cart:
    try:
        return checkout.cart_for(token=token, products=products, domains=domains, empty_ok=empty_ok)
    except checkout.ItemsRefused as exc:
        raise _refused(exc) from None


@router.get(
    "/legal",
    response={200: LegalOut, **ERRORS},
    **WRITE,
    url_name="legal",
    summary="What an order of these names and products must accept, with its texts",
)
def legal(request: HttpRequest, query: Query[LegalQuery]) -> dict[str, Any]:
    customer = customer_of(request)
    language = _language()
    cart = _cart("", query.product, query.domain, empty_ok=True)
    is_consumer = consumer.is_consumer(customer)
    due = services.documents_due(
        cart=cart, customer=customer, start_now=query.start_now and is_consumer, language=language
    )
    return {
        "language": language,
        "consumer": is_consumer,
        "lines": [
            {
                "kind": line.kind,
                "item": domain_shown(line.domain) if line.product is None else line.product.code,
                "price_cents": line.price_cents,
                "period": line.period,
            }
            for line in cart.lines
        ],
        "total_cents": cart.total_cents,
        "non_eu": [
            {
                "domain": domain_shown(line.domain),
                "registry": registry_named(line.extension.tld, line.extension.registry),
            }
            for line in cart.non_eu_domains
            if line.extension is not None
        ],
        "documents": _documents_out(due),
        "order_button": str(consumer.ORDER_BUTTON),
    }


def _not_asked(body: OrderIn, form: CheckoutForm) -> list[dict[str, Any]]:
    """Fields this order does not take (an account's details on file, a business's
    start_now): refused rather than ignored."""
    given = {
        "vat_number": body.vat_number is not None,
        "kvk_number": body.kvk_number is not None,
        "legal_form": body.legal_form is not None,
        "kvk_extract": body.kvk_extract_base64 is not None,
        "start_now": body.start_now,
    }
    return [
        {
            "location": "body",
            "field": "kvk_extract_base64" if name == "kvk_extract" else name,
            "code": "extra_forbidden",
            "message": _("Dit veld hoort niet bij deze bestelling."),
        }
        for name, sent in given.items()
        if sent and name not in form.fields
    ]


def _form(body: OrderIn, customer: Customer, cart: Cart) -> CheckoutForm:
    files = {}
    if body.kvk_extract_base64 is not None:
        try:
            content = base64.b64decode(body.kvk_extract_base64, validate=True)
        except (binascii.Error, ValueError):
            error = {
                "location": "body",
                "field": "kvk_extract_base64",
                "code": "invalid",
                "message": _("Geen geldige base64."),
            }
            raise Problem(
                "invalid", _("Een of meer velden kloppen niet."), errors=[error]
            ) from None
        files["kvk_extract"] = SimpleUploadedFile("uittreksel", content)
    non_eu = bool(cart.non_eu_domains)
    data = {
        "token": cart.token,
        # Whether the documents are accepted is order_place's to say, from `accept`.
        "accept": "on",
        "non_eu_consent": "on" if non_eu and body.accept.whois_notice is not None else "",
        "start_now": "on" if body.start_now else "",
        "notes": body.notes,
        "vat_number": body.vat_number or "",
        "kvk_number": body.kvk_number or "",
        "legal_form": body.legal_form or "",
    }
    form = CheckoutForm(
        data,
        files,
        customer=customer,
        has_domains=bool(cart.domains),
        has_non_eu=non_eu,
        asks_kvk_extract=not KvkExtract.objects.filter(order__customer=customer).exists(),
    )
    extra = _not_asked(body, form)
    if extra:
        raise Problem("invalid", _("Een of meer velden kloppen niet."), errors=extra)
    if not form.is_valid():
        raise form_problem(form)
    return form


@router.post(
    "/orders",
    response={201: OrderOut, 200: OrderOut, **ERRORS},
    **WRITE,
    url_name="order-new",
    summary="Order products and names, accepting the documents of GET /legal",
)
def order_new(request: HttpRequest, body: OrderIn) -> Status[Any]:
    """As the checkout: the confirmation mail once, then invoice and delivery.

    A stale or missing acceptance is a 409 problem whose `documents` are the ones to
    accept; a name that is taken or not possible, a 422 naming it. With the same
    Idempotency-Key and body again, the same order answers (200), never a second one.
    """
    caller = caller_of(request)
    customer = customer_of(request)
    language = _language()
    token = checkout.script_cart_token(caller.token.pk, request.headers.get("Idempotency-Key"))
    evidence = {
        kind: (given.version, given.sha256)
        for kind, given in body.accept
        if isinstance(given, Accepted)
    }

    def make() -> dict[str, Any]:
        cart = _cart(token, body.products, body.domains)
        form = _form(body, customer, cart)
        start_now = bool(form.cleaned_data.get("start_now"))
        due = services.documents_due(
            cart=cart, customer=customer, start_now=start_now, language=language
        )
        if not services.acceptance_matches(due, evidence):
            raise _not_accepted(due)
        address = client_address(request)
        taken = checkout.names_refused(cart, address)
        if taken:
            raise _refused(checkout.ItemsRefused(taken))
        arguments = checkout.order_input(
            cart=cart,
            customer=customer,
            data=form.cleaned_data,
            language=language,
            client_address=address,
        )
        try:
            order = services.order_place(
                **arguments, evidence=evidence, channel=f"api:{caller.token.pk}"
            )
        except services.DocumentsNotAccepted as exc:
            raise _not_accepted(exc.due) from None
        except services.ShopError as exc:
            raise _shop_refused(exc) from None
        return {"order": str(order.pk)}

    result, replayed = idempotent(request, caller, make)
    order = Order.objects.prefetch_related("lines").get(pk=result["order"], customer=customer)
    return Status(200 if replayed else 201, customers.orders_out(request, [order])[0])


def _not_accepted(due: list[documents.DocumentText]) -> Problem:
    names = ", ".join(f"{d.kind} {d.version}" for d in due)
    return Problem(
        "conflict",
        _(
            "Accepteer precies deze documenten, elk met versie en sha256 uit GET /legal: "
            "%(documents)s. Er is niets besteld."
        )
        % {"documents": names},
        extra={"documents": _documents_out(due)},
    )


def _shop_refused(exc: services.ShopError) -> Problem:
    if exc.code == "already_ordered":
        return Problem(
            "conflict",
            _("Deze Idempotency-Key hoort al bij een bestelling; er is geen tweede gemaakt."),
        )
    return Problem("refused", str(SHOP_ERRORS.get(exc.code, _("Deze bestelling kan niet."))))
