"""The shop's mails, through the outbox: the order confirmation and each status change.

The confirmation carries the agreement and the processor agreement as PDFs, made
again at delivery from the order (deterministic, see pdf.py). What the customer
typed reaches templates and PDFs only as values, never as template source.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from kluis.accounts.models import Customer
from kluis.formats import euro as format_euro
from kluis.formats import long_date, long_datetime
from kluis.mail.kinds import attachment_generator, mail_kind
from kluis.mail.models import OutboxMessage
from kluis.mail.services import AttachmentRef, mail_queue
from kluis.policy.enforce import Actor
from kluis.shop import documents
from kluis.shop.consumer import withdrawal_deadline
from kluis.shop.domains import line_texts, registries_named, subscription_names
from kluis.shop.models import Order, Period, PriceNotice, SubprocessorNotice, Subscription
from kluis.shop.pdf import OrderFacts, render_order_document

CONFIRMATION = "shop/email/order_confirmation"
STATUS = "shop/email/order_status"
SUBPROCESSORS = "shop/email/subprocessor_notice"
RENEWAL_NOTICE = "shop/email/renewal_notice"
PRICE_NOTICE = "shop/email/price_notice"
PDF_GENERATOR = "shop.order_document"
MAILER = Actor.system("shop.mail")
FILENAMES = {
    "nl": {
        "agreement": "overeenkomst",
        "processor_agreement": "verwerkersovereenkomst",
        "withdrawal_form": "modelformulier-herroeping",
    },
    "en": {
        "agreement": "agreement",
        "processor_agreement": "processor-agreement",
        "withdrawal_form": "model-withdrawal-form",
    },
}


def euro(cents: int) -> str:
    return format_euro(cents)


def consumer_vat_rate(order: Order) -> int | None:
    """The VAT rate (basis points) a consumer's prices are shown with, or None.

    Prices to consumers include VAT (art. 6:230m lid 1 sub e BW; LEGAL.md §8, not
    checked against the primary text): the confirmation and the order's documents
    show a consumer's lines and total with the VAT their invoice will carry. None for
    a business, or when no rate is known for the day (then "excl. btw" is said).
    """
    if not order.consumer:
        return None
    from kluis.billing.vat import VatError, vat_decide

    day = timezone.localdate(order.created_at)
    try:
        return vat_decide(country=order.customer.country, evidence=None, day=day).rate_bp
    except VatError:
        return None


def _with_vat(cents: int, rate_bp: int | None) -> int:
    from kluis.billing.vat import vat_amount

    return cents if rate_bp is None else cents + vat_amount(cents, rate_bp)


def total_label(rate_bp: int | None) -> str:
    return str(_("Totaal (excl. btw)") if rate_bp is None else _("Totaal (incl. btw)"))


def _facts(order: Order, actor: Actor) -> OrderFacts:
    customer = order.customer
    name = customer.name.reveal(purpose="order_documents", actor=actor) if customer.name else ""
    notes = order.notes.reveal(purpose="order_documents", actor=actor) if order.notes else ""
    rate = consumer_vat_rate(order)
    texts = line_texts(list(order.lines.all()), purpose="order_documents", actor=actor)
    with override(order.language):
        lines = [
            (text, f"{euro(_with_vat(line.price_cents, rate))} {Period(line.period).label}")
            for line, text in texts
        ]
        label = total_label(rate)
    return OrderFacts(
        number=order.number,
        date=long_date(order.created_at),
        customer_number=customer.number,
        name=name,
        notes=notes,
        lines=lines,
        total=euro(_with_vat(order.total_cents, rate)),
        total_label=label,
    )


def order_pdf(order: Order, kind: str, actor: Actor = MAILER) -> bytes:
    if kind == "withdrawal_form":
        version = documents.versions("withdrawal_form")[0]
    elif kind == "agreement":
        version = order.agreement_version
    else:
        version = order.processor_agreement_version
    doc = documents.document(kind, version, order.language)
    return render_order_document(doc, _facts(order, actor))


@attachment_generator(PDF_GENERATOR)
def _order_document(ref: Mapping[str, Any], actor: Actor) -> bytes:
    order = Order.objects.select_related("customer").get(pk=ref["order_id"])
    return order_pdf(order, str(ref["kind"]), actor)


def _consent_moment(order: Order) -> str:
    """When the customer ticked the non-EU registry consent, as the mail's reader writes it.

    The WHOIS/RDAP notice is accepted with the same tick (shop.services.order_place), so
    its acceptance carries the moment; the order's own time stands in for older orders.
    """
    if not order.non_eu_consent:
        return ""
    acceptance = order.acceptances.filter(document="whois_notice").order_by("accepted_at").first()
    moment = timezone.localtime(acceptance.accepted_at if acceptance else order.created_at)
    with override(order.language):
        return formats.date_format(moment, "j F Y, H:i")


def _order_context(order: Order, actor: Actor, purpose: str) -> dict[str, Any]:
    customer = order.customer
    rate = consumer_vat_rate(order)
    texts = line_texts(list(order.lines.all()), purpose=purpose, actor=actor)
    with override(order.language):
        lines = [
            {
                "description": text,
                "price": euro(_with_vat(line.price_cents, rate)),
                "period": str(Period(line.period).label),
            }
            for line, text in texts
        ]
        label = total_label(rate)
        # The registries outside the EU the consent is for, by name and country.
        registries = registries_named(
            line.extension for line, _text in texts if line.extension and not line.extension.eu
        )
    return {
        "name": customer.name.reveal(purpose=purpose, actor=actor) if customer.name else "",
        "number": order.number,
        "lines": lines,
        "total": euro(_with_vat(order.total_cents, rate)),
        "total_label": label,
        "waits_for_vies": order.waits_for_vies,
        "non_eu_consent": order.non_eu_consent,
        "non_eu_registries": registries,
    }


@mail_kind(template=CONFIRMATION, purpose="order_documents", references={"order_id"})
def _confirmation_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    order = Order.objects.select_related("customer").get(pk=context["order_id"])
    values = _order_context(order, actor, "order_documents")
    values["notes"] = (
        order.notes.reveal(purpose="order_documents", actor=actor) if order.notes else ""
    )
    values["awaiting_owner"] = order.awaiting_owner
    values["agreement_version"] = order.agreement_version
    values["processor_agreement_version"] = order.processor_agreement_version
    values["consumer"] = order.consumer
    values["start_now"] = order.start_now_requested
    values["withdrawal_deadline"] = long_date(withdrawal_deadline(order))
    values["non_eu_consent_at"] = _consent_moment(order)
    return values


@mail_kind(template=STATUS, purpose="order_status", references={"order_id", "status"})
def _status_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    order = Order.objects.select_related("customer").get(pk=context["order_id"])
    values = _order_context(order, actor, "order_status")
    # The status of the moment the mail was queued, as a lazy label: translated when
    # the mail is rendered in the customer's language.
    values["status"] = Order.Status(context["status"]).label
    if context["status"] == Order.Status.WITHDRAWN and order.withdrawn_at is not None:
        # The acknowledgement art. 6:230oa lid 4 BW asks for: on a durable medium, with
        # what was withdrawn and the date and time (kluis/shop/consumer.py).
        at = timezone.localtime(order.withdrawn_at)
        values["withdrawn_on"] = long_date(at)
        values["withdrawn_time"] = at.strftime("%H:%M")
        values["items"] = "; ".join(line.description for line in order.lines.all())
    return values


def _recipient(order: Order, purpose: str) -> str:
    email = order.customer.email
    assert email is not None
    return str(email.reveal(purpose=purpose, actor=MAILER))


def dedupe_key(order: Order, status: str) -> str:
    return f"order:{order.pk}:status:{status}"


def mail_order_confirmation(order: Order) -> OutboxMessage:
    language = order.language
    names = FILENAMES.get(language, FILENAMES["nl"])
    attachments = [
        AttachmentRef(
            f"{names[kind]}-{order.number}.pdf",
            "application/pdf",
            PDF_GENERATOR,
            {"order_id": str(order.pk), "kind": kind},
        )
        for kind in ("agreement", "processor_agreement")
        + (("withdrawal_form",) if order.consumer else ())
    ]
    return mail_queue(
        template=CONFIRMATION,
        to_subject=order.customer_id,
        recipient_email=_recipient(order, "order_documents"),
        language=language,
        context={"order_id": str(order.pk)},
        dedupe_key=dedupe_key(order, Order.Status.RECEIVED),
        attachments=attachments,
    )


def mail_order_status(order: Order, status: str) -> OutboxMessage:
    return mail_queue(
        template=STATUS,
        to_subject=order.customer_id,
        recipient_email=_recipient(order, "order_status"),
        language=order.language,
        context={"order_id": str(order.pk), "status": status},
        dedupe_key=dedupe_key(order, status),
    )


def _name(customer: Customer, actor: Actor) -> str:
    return customer.name.reveal(purpose="order_documents", actor=actor) if customer.name else ""


@mail_kind(
    template=SUBPROCESSORS, purpose="order_documents", references={"notice_id", "customer_id"}
)
def _subprocessors_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    notice = SubprocessorNotice.objects.get(pk=context["notice_id"])
    before = (
        SubprocessorNotice.objects.filter(created_at__lt=notice.created_at)
        .order_by("-created_at")
        .first()
    )
    customer = Customer.objects.get(pk=context["customer_id"])
    return {
        "name": _name(customer, actor),
        "names": notice.names.splitlines(),
        "before": before.names.splitlines() if before else [],
        "takes_effect_on": long_date(notice.takes_effect_on),
    }


@mail_kind(
    template=RENEWAL_NOTICE, purpose="order_documents", references={"subscription_id", "start"}
)
def _renewal_notice_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    from kluis.shop.pricing import subscription_price_cents  # pricing sends mail through here

    subscription = Subscription.objects.select_related(
        "customer", "product", "extension", "line__order"
    ).get(pk=context["subscription_id"])
    order = subscription.line.order
    start, end = subscription.next_period()
    rate = consumer_vat_rate(order)
    language = subscription.customer.language
    return {
        "name": _name(subscription.customer, actor),
        "service": subscription_names(
            [subscription], language, purpose="order_documents", actor=actor
        )[0][1],
        "ends": long_date(subscription.period_end),
        "start": long_date(start),
        "end": long_date(end),
        "price": euro(_with_vat(subscription_price_cents(subscription, start), rate)),
        "incl_vat": rate is not None,
    }


def _consumer_rate_on(order: Order, day: dt.date) -> int | None:
    """The VAT rate a consumer's price is shown with on `day`; None for a business."""
    if not order.consumer:
        return None
    from kluis.billing.vat import VatError, vat_decide

    try:
        return vat_decide(country=order.customer.country, evidence=None, day=day).rate_bp
    except VatError:
        return None


@mail_kind(template=PRICE_NOTICE, purpose="order_documents", references={"notice_id"})
def _price_notice_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    notice = PriceNotice.objects.select_related(
        "subscription__customer",
        "subscription__product",
        "subscription__extension",
        "subscription__line__order__customer",
    ).get(pk=context["notice_id"])
    subscription = notice.subscription
    rate = _consumer_rate_on(subscription.line.order, notice.applies_from)
    language = subscription.customer.language
    return {
        "name": _name(subscription.customer, actor),
        "service": subscription_names(
            [subscription], language, purpose="order_documents", actor=actor
        )[0][1],
        "old_price": euro(_with_vat(notice.old_price_cents, rate)),
        "new_price": euro(_with_vat(notice.new_price_cents, rate)),
        "per": Period(subscription.period).label,
        "incl_vat": rate is not None,
        "increase": notice.is_increase,
        "applies_from": long_date(notice.applies_from),
        "last_day": long_date(notice.applies_from - dt.timedelta(days=1)),
    }


WITHDRAWAL_LINK = "shop/email/withdrawal_link"


@mail_kind(
    template=WITHDRAWAL_LINK, purpose="order_documents", references={"order_id", "requested_at"}
)
def _withdrawal_link_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    """The link that finishes a withdrawal made on the public page (kluis/shop/withdrawal.py).

    The token is made here, when the mail is rendered: the outbox keeps only the order
    and the moment, never a link that withdraws."""
    from django.urls import reverse

    from kluis.shop.withdrawal import link_token

    order = Order.objects.select_related("customer").get(pk=context["order_id"])
    requested_at = dt.datetime.fromisoformat(str(context["requested_at"]))
    return {
        "name": _name(order.customer, actor),
        "number": order.number,
        "requested": long_datetime(requested_at),
        "path": reverse("shop:withdraw-link", kwargs={"token": link_token(order, requested_at)}),
    }
