"""The kinds of mail, and the attachment generators, that the outbox can deliver.

An app that sends mail declares each kind in its `emails.py` (imported by the mail
app when Django starts, so the worker knows every kind):

    @mail_kind(template="shop/email/order_status", purpose="order_status",
               references={"order_id", "status"})
    def _order_status(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
        order = Order.objects.get(pk=context["order_id"])
        return {"name": order.customer.name.reveal(purpose="order_status", actor=actor),
                "number": order.number, "status": context["status"]}

    def mail_order_status(*, order: Order, status: str) -> OutboxMessage:
        return mail_queue(template="shop/email/order_status", ..., context={...})

What is queued is the references; the loader turns them into the template context
when the mail is delivered, revealing personal values for the kind's purpose as the
mail worker. Facts of the moment (the new status) belong in the references, since
the rows may change before delivery. A kind whose address comes from a question
(someone who only asked us something) says `retention="contact_request"`, so the
outbox's sealed copy of the address goes when the question's key is shredded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kluis.policy.enforce import Actor

ContextLoader = Callable[[Mapping[str, Any], Actor], dict[str, Any]]
AttachmentGenerator = Callable[[Mapping[str, Any], Actor], bytes]


@dataclass(frozen=True)
class MailKind:
    template: str
    # The declared purpose the mail serves: its recipient's address, and anything
    # personal its loader reads, are revealed for this purpose and no other.
    purpose: str
    references: frozenset[str]
    load: ContextLoader
    # The retention class of the record the address is copied from; the outbox seals
    # its copy in the same class (kluis.mail.models.RECIPIENT_FIELDS).
    retention: str = "customer_record"


_kinds: dict[str, MailKind] = {}
_generators: dict[str, AttachmentGenerator] = {}


def mail_kind(
    *,
    template: str,
    purpose: str,
    references: Iterable[str],
    retention: str = "customer_record",
) -> Callable[[ContextLoader], ContextLoader]:
    from kluis.mail.models import RECIPIENT_FIELDS

    if retention not in RECIPIENT_FIELDS:
        raise ValueError(f"the outbox seals no address in retention class {retention!r}")

    def register(load: ContextLoader) -> ContextLoader:
        known = _kinds.get(template)
        if known is not None and known.load is not load:
            raise ValueError(f"mail kind {template!r} is declared twice")
        _kinds[template] = MailKind(template, purpose, frozenset(references), load, retention)
        return load

    return register


def attachment_generator(name: str) -> Callable[[AttachmentGenerator], AttachmentGenerator]:
    """Declare a generator; it must return the same bytes for the same reference."""

    def register(generate: AttachmentGenerator) -> AttachmentGenerator:
        known = _generators.get(name)
        if known is not None and known is not generate:
            raise ValueError(f"attachment generator {name!r} is declared twice")
        _generators[name] = generate
        return generate

    return register


class UnknownKind(LookupError):
    """No app declares this kind of mail or this attachment generator."""


def get_kind(template: str) -> MailKind:
    try:
        return _kinds[template]
    except KeyError:
        raise UnknownKind(f"no mail kind {template!r} is declared") from None


def get_generator(name: str) -> AttachmentGenerator:
    try:
        return _generators[name]
    except KeyError:
        raise UnknownKind(f"no attachment generator {name!r} is declared") from None
