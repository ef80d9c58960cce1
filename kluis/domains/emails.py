"""The domains app's mail: one to the customer when a registration fails.

A registration that the registry turns down (or that our checks stop because the
customer's data do not fit the registry's rules) is mailed once, whatever happens
after: a retry by staff that fails again mails nothing new (the dedupe key names the
registration, not the attempt). The mail is queued in the transaction that marks the
registration failed. It gives the cause in plain words; the registry's own message
is for the domains desk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _

from kluis.domains import shop_link
from kluis.domains.models import DomainRegistration
from kluis.domains.registries import REGISTRIES
from kluis.mail.kinds import mail_kind
from kluis.mail.models import OutboxMessage
from kluis.mail.services import AttachmentRef, Reference, mail_queue
from kluis.policy.enforce import Actor

REGISTRATION_FAILED = "domains/email/registration_failed"
TRANSFER_FAILED = "domains/email/transfer_failed"
PURPOSE = "order_status"
MAILER = Actor.system("domains.mail")


class Cause:
    TAKEN = "taken"  # 2302 at create: someone else registered it first
    REJECTED = "rejected"  # the registry's rules (2306, 2005, 2004, 2003)
    DATA = "data"  # our check: the customer's data do not fit the registry's rules
    OTHER = "other"
    # A transfer in:
    WRONG_CODE = "wrong_code"  # 2202: the auth code is not (or no longer) right
    NOT_ALLOWED = "not_allowed"  # 2201, 2304, 2106, 2300: locked, or not transferable now
    NOT_FOUND = "not_found"  # 2303: the registry has no such domain
    DECLINED = "declined"  # the current registrar rejected, or the request was cancelled


CAUSES = {
    Cause.TAKEN: _(
        "De naam bleek bij de registratie al bezet: iemand anders had hem net eerder geregistreerd."
    ),
    Cause.REJECTED: _("De registry heeft de registratie geweigerd volgens haar eigen regels."),
    Cause.DATA: _(
        "Je gegevens zijn niet compleet of passen niet bij de regels van de registry, "
        "bijvoorbeeld een adres of telefoonnummer dat ontbreekt."
    ),
    Cause.OTHER: _("De registry kon de registratie niet uitvoeren."),
}

TRANSFER_CAUSES = {
    Cause.WRONG_CODE: _(
        "De verhuiscode (autorisatiecode) klopt niet of is verlopen. Vraag je huidige "
        "provider om een nieuwe code."
    ),
    Cause.NOT_ALLOWED: _(
        "De domeinnaam kan nu niet verhuizen: hij is bijvoorbeeld vergrendeld bij je huidige "
        "provider, loopt al een verhuizing, of is kortgeleden nog verhuisd. Vraag je huidige "
        "provider de vergrendeling op te heffen."
    ),
    Cause.NOT_FOUND: _("De registry kent deze domeinnaam niet; hij is niet geregistreerd."),
    Cause.DECLINED: _("Je huidige provider heeft de verhuizing geweigerd of ingetrokken."),
    Cause.DATA: CAUSES[Cause.DATA],
    Cause.OTHER: _("De registry kon de verhuizing niet uitvoeren."),
}


def dedupe_key(registration: DomainRegistration) -> str:
    kind = "transfer" if registration.is_transfer else "registration"
    return f"domains:{kind}:{registration.pk}:failed"


@mail_kind(template=TRANSFER_FAILED, purpose=PURPOSE, references={"registration", "cause"})
def _transfer_failed_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    loaded = _failed_context(context, actor)
    loaded["cause"] = TRANSFER_CAUSES.get(str(context["cause"]), TRANSFER_CAUSES[Cause.OTHER])
    return loaded


@mail_kind(template=REGISTRATION_FAILED, purpose=PURPOSE, references={"registration", "cause"})
def _failed_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    return {
        **domain_context(context, actor),
        "cause": CAUSES.get(str(context["cause"]), CAUSES[Cause.OTHER]),
    }


def domain_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    """What every mail about one registration names: the customer, domain, order, registry."""
    registration = DomainRegistration.objects.select_related(
        "order__customer", "line", "line__extension"
    ).get(pk=context["registration"])
    customer = registration.order.customer
    registry = REGISTRIES.get(registration.registry)
    return {
        "name": customer.name.reveal(purpose=PURPOSE, actor=actor) if customer.name else "",
        "domain": shop_link.domain_shown(registration.line, purpose=PURPOSE, actor=actor),
        "number": registration.order.number,
        "registry": registry.name if registry else registration.registry,
    }


def mail_registration_failed(registration: DomainRegistration, cause: str) -> OutboxMessage:
    """Queue the one failure mail of `registration` (in the caller's transaction)."""
    return mail_to_customer(
        registration,
        TRANSFER_FAILED if registration.is_transfer else REGISTRATION_FAILED,
        PURPOSE,
        {"registration": registration.pk, "cause": cause},
        dedupe_key(registration),
    )


def mail_to_customer(
    registration: DomainRegistration,
    template: str,
    purpose: str,
    context: dict[str, Reference],
    key: str,
    attachments: Sequence[AttachmentRef] = (),
) -> OutboxMessage:
    """A mail to the account's own address, never to one a request names."""
    order = registration.order
    customer = order.customer
    assert customer.email is not None
    return mail_queue(
        template=template,
        to_subject=customer.id,
        recipient_email=str(customer.email.reveal(purpose=purpose, actor=MAILER)),
        language=order.language,
        context=context,
        dedupe_key=key,
        attachments=attachments,
    )


AUTH_CODE = "domains/email/auth_code"
AUTH_PURPOSE = "domain_registration"


@mail_kind(template=AUTH_CODE, purpose=AUTH_PURPOSE, references={"registration"})
def _auth_code_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    """The code is read from the registry now: the outbox keeps no copy of it."""
    from kluis.domains.registries import pool

    registration = DomainRegistration.objects.select_related(
        "order__customer", "line", "line__extension"
    ).get(pk=context["registration"])
    customer = registration.order.customer
    registry = REGISTRIES[registration.registry]
    name = shop_link.domain_of(registration.line)
    with pool(registry.key).session() as epp:
        code = epp.domain_info(name).auth_pw
    return {
        "name": customer.name.reveal(purpose=AUTH_PURPOSE, actor=actor) if customer.name else "",
        "domain": shop_link.domain_shown(registration.line, purpose=AUTH_PURPOSE, actor=actor),
        "registry": registry.name,
        "code": code,
    }


def mail_auth_code(registration: DomainRegistration, *, dedupe_key: str) -> OutboxMessage:
    return mail_to_customer(
        registration, AUTH_CODE, AUTH_PURPOSE, {"registration": registration.pk}, dedupe_key
    )
