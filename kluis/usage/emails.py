"""The mailboxes' mail, through the outbox: support ended a mailbox at your request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kluis.mail.kinds import mail_kind
from kluis.mail.models import OutboxMessage
from kluis.mail.services import mail_queue
from kluis.policy.enforce import Actor
from kluis.usage.models import Mailbox

PURPOSE = "account_management"
MAILBOX_ENDED = "usage/email/mailbox_ended"
MAILER = Actor.system("usage.mail")


@mail_kind(
    template=MAILBOX_ENDED,
    purpose=PURPOSE,
    references={"mailbox_id"},
    retention="customer_record",
)
def _mailbox_ended(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    box = Mailbox.objects.get(pk=context["mailbox_id"])
    return {
        "address": box.address.reveal(purpose=PURPOSE, actor=actor),
        "ended_at": box.ended_at,
    }


def mail_mailbox_ended(box: Mailbox) -> OutboxMessage:
    """The customer's notice that support ended their mailbox; one per mailbox (a
    mailbox ends once)."""
    customer = box.customer
    email = customer.email
    assert email is not None
    return mail_queue(
        template=MAILBOX_ENDED,
        to_subject=customer.pk,
        recipient_email=str(email.reveal(purpose=PURPOSE, actor=MAILER)),
        language=customer.language,
        context={"mailbox_id": str(box.pk)},
        dedupe_key=f"mailbox:{box.pk}:ended",
    )
