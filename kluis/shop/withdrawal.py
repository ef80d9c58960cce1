"""Withdrawing without a log-in (art. 6:230oa BW; README "Contracts and consumer law").

The law asks for a withdrawal function that is easy to reach; the ACM's guidance says an
account may be offered but not required. So besides "Bestelling herroepen" in the
portal, a public page takes the order number and the address the order was placed with.

No account oracle (README): the page answers the same whatever was typed, and does the
same work. It seals the typed address under a subject of the request alone and writes
one audit entry; the worker (`withdrawal_requests_handle`) looks the pair up by the
address's blind index and, only when it is a consumer order that could still be
withdrawn on the day of the request, mails the order's own stored address a link. The
link (signed, valid 30 days) opens a page with one button that finishes the withdrawal;
it counts from the moment the form was sent, so a link used after the period still
honours a withdrawal made within it. A mail scanner that opens the link changes nothing:
only the button's POST withdraws. Rate limited per order number and per client address.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kluis.accounts import throttle
from kluis.accounts.models import Customer
from kluis.audit.chain import audit_append
from kluis.mail.services import mail_queue
from kluis.policy.enforce import Actor
from kluis.shop import consumer
from kluis.shop.models import Order, WithdrawalRequest
from kluis.vault.errors import KeyShredded
from kluis.vault.fields import BlindIndexField
from kluis.vault.keys import KeyScope, shred

WORKER = Actor.system("shop.withdrawal_requests")
LINK_SALT = "kluis.shop.withdrawal-link"
LINK_VALID = dt.timedelta(days=30)
LEASE = dt.timedelta(minutes=5)
GIVE_UP = dt.timedelta(hours=1)
LINK_MAIL = "shop/email/withdrawal_link"


def withdrawal_request(
    *, order_number: str, email: str, client_address: str, language: str = "nl"
) -> None:
    """Take the public form's withdrawal; the same work and answer whatever was typed."""
    keys = [
        throttle.key_for(throttle.WITHDRAW_ORDER, order_number),
        throttle.key_for(throttle.WITHDRAW_ADDRESS, client_address),
    ]
    if throttle.blocked_seconds(keys):
        return
    throttle.throttle_fail(keys=keys)  # every request counts: each one may send mail
    with transaction.atomic():
        request = WithdrawalRequest(
            order_number=order_number[:32],
            email=email,
            language=language if language in ("nl", "en") else "nl",
        )
        request.save(force_insert=True)
        audit_append(
            action="shop.withdrawal_requested",
            actor=f"client:{throttle.client_ref(client_address)}",
            subject=request.pk,
            data={"request": str(request.pk)},
        )


def withdrawal_requests_handle(*, limit: int = 20) -> int:
    """Handle the waiting requests, each in its own transaction; how many."""
    now = timezone.now()
    free = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - LEASE)
    waiting = WithdrawalRequest.objects.filter(free).order_by("created_at")
    handled = 0
    for pk, created_at in waiting.values_list("pk", "created_at")[:limit]:
        if WithdrawalRequest.objects.filter(free, pk=pk).update(claimed_at=now) != 1:
            continue
        _handle(pk, give_up=now - created_at > GIVE_UP)
        handled += 1
    return handled


def _handle(pk: uuid.UUID, *, give_up: bool) -> None:
    with transaction.atomic():
        request = WithdrawalRequest.objects.get(pk=pk)
        order = None if give_up else _matching_order(request)
        if order is not None:
            _mail_link(order, request.created_at)
        audit_append(
            action="shop.withdrawal_request_handled",
            actor=WORKER.ref,
            subject=order.customer_id if order is not None else pk,
            data={"request": str(pk), "order": str(order.pk) if order else None},
        )
        request.delete()
    # What was typed is gone with its key, whatever the answer was.
    shred([KeyScope(pk, "contact_request", "")])


def _matching_order(request: WithdrawalRequest) -> Order | None:
    if request.email is None:
        return None
    try:
        typed = request.email.reveal(purpose="order_documents", actor=WORKER)
    except KeyShredded:
        return None
    field = Customer._meta.get_field("email_index")
    assert isinstance(field, BlindIndexField)
    order = (
        Order.objects.filter(
            number=request.order_number, customer__email_index=field.lookup_value(str(typed))
        )
        .select_related("customer")
        .first()
    )
    if order is None or not consumer.can_withdraw(order, timezone.localdate(request.created_at)):
        return None
    return order


def _mail_link(order: Order, requested_at: dt.datetime) -> None:
    customer = order.customer
    if customer.email is None:
        return
    try:
        address = customer.email.reveal(purpose="order_documents", actor=WORKER)
    except KeyShredded:
        return
    stamp = requested_at.isoformat()
    mail_queue(
        template=LINK_MAIL,
        to_subject=customer.id,
        recipient_email=str(address),
        language=order.language,
        context={"order_id": str(order.pk), "requested_at": stamp},
        dedupe_key=f"withdrawal-link:{order.pk}:{requested_at:%Y%m%d%H%M%S%f}",
    )


def link_token(order: Order, requested_at: dt.datetime) -> str:
    return signing.dumps({"o": str(order.pk), "at": requested_at.isoformat()}, salt=LINK_SALT)


def link_read(token: str) -> tuple[Order, dt.datetime] | None:
    """The order and the moment of the request a link stands for; None when not valid."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=LINK_VALID)
        order = Order.objects.get(pk=uuid.UUID(str(data["o"])))
        requested_at = dt.datetime.fromisoformat(str(data["at"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, Order.DoesNotExist):
        return None
    return order, requested_at
