"""The sites' mail: support answered your help request (through the outbox)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kluis.mail.kinds import mail_kind
from kluis.mail.models import OutboxMessage
from kluis.mail.services import mail_queue
from kluis.policy.enforce import Actor
from kluis.sites.models import HelpMessage, HelpRequest

PURPOSE = "answer_questions"
HELP_ANSWER = "sites/email/help_answer"
MAILER = Actor.system("sites.mail")


@mail_kind(
    template=HELP_ANSWER,
    purpose=PURPOSE,
    references={"help_request_id", "number"},
    retention="contact_request",
)
def _help_answer(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    message = HelpMessage.objects.select_related("help_request").get(
        help_request_id=context["help_request_id"], number=context["number"]
    )
    return {
        "reference": message.help_request.reference,
        "answer": message.body.reveal(purpose=PURPOSE, actor=actor),
        "request_id": str(message.help_request_id),
    }


def mail_help_answer(*, request: HelpRequest, message: HelpMessage) -> OutboxMessage:
    customer = request.customer
    email = customer.email
    assert email is not None
    return mail_queue(
        template=HELP_ANSWER,
        to_subject=customer.pk,
        recipient_email=str(email.reveal(purpose=PURPOSE, actor=MAILER)),
        language=customer.language,
        context={"help_request_id": str(request.pk), "number": message.number},
        dedupe_key=f"help:{request.pk}:answer:{message.number}",
    )
