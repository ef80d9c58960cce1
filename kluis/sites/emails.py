"""The sites' mail: support answered your help request (through the outbox)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kluis.mail.kinds import mail_kind
from kluis.mail.models import OutboxMessage
from kluis.mail.services import mail_queue
from kluis.policy.enforce import Actor
from kluis.sites.models import HelpMessage, HelpRequest, SupportGrant

PURPOSE = "answer_questions"
HELP_ANSWER = "sites/email/help_answer"
UPDATE_ANNOUNCED = "sites/email/update_announced"
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


@mail_kind(
    template=UPDATE_ANNOUNCED,
    purpose="account_management",
    references={"grant_id"},
    retention="customer_record",
)
def _update_announced(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    grant = SupportGrant.objects.get(pk=context["grant_id"])
    return {
        "site": grant.site_id,
        "note": grant.note,
        "starts_at": grant.starts_at,
        "ends_at": grant.ends_at,
        "ended": grant.ended_at is not None,
    }


def mail_update_announced(*, grant: SupportGrant) -> OutboxMessage:
    customer = grant.site.customer
    email = customer.email
    assert email is not None
    return mail_queue(
        template=UPDATE_ANNOUNCED,
        to_subject=customer.pk,
        recipient_email=str(email.reveal(purpose="account_management", actor=MAILER)),
        language=customer.language,
        context={"grant_id": grant.pk},
        dedupe_key=f"grant:{grant.pk}:announced",
    )
