"""The sites' mail, through the outbox: support answered your help request, an update is
announced, your site is suspended."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kluis.mail.kinds import mail_kind
from kluis.mail.models import OutboxMessage
from kluis.mail.services import mail_queue
from kluis.policy.enforce import Actor
from kluis.sites.models import HelpMessage, HelpRequest, Site, SupportGrant

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


def _mail_about_site(
    site: Site, *, template: str, context: dict[str, Any], dedupe_key: str
) -> OutboxMessage:
    """A mail about one site to its customer, for account management."""
    customer = site.customer
    email = customer.email
    assert email is not None
    return mail_queue(
        template=template,
        to_subject=customer.pk,
        recipient_email=str(email.reveal(purpose="account_management", actor=MAILER)),
        language=customer.language,
        context=context,
        dedupe_key=dedupe_key,
    )


def mail_update_announced(*, grant: SupportGrant) -> OutboxMessage:
    return _mail_about_site(
        grant.site,
        template=UPDATE_ANNOUNCED,
        context={"grant_id": grant.pk},
        dedupe_key=f"grant:{grant.pk}:announced",
    )


SITE_SUSPENDED = "sites/email/site_suspended"


@mail_kind(
    template=SITE_SUSPENDED,
    purpose="account_management",
    references={"site_id"},
    retention="customer_record",
)
def _site_suspended(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    site = Site.objects.get(pk=context["site_id"])
    return {"site": site.pk, "suspended_at": site.status_changed_at}


def mail_site_suspended(*, site: Site) -> OutboxMessage:
    """The customer's notice, queued in the transaction that suspends the site: one
    mail per suspension (the dedupe key carries the moment of this suspension)."""
    return _mail_about_site(
        site,
        template=SITE_SUSPENDED,
        context={"site_id": site.pk},
        dedupe_key=f"site:{site.pk}:suspended:{site.status_changed_at.isoformat()}",
    )
