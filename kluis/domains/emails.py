"""The domains app's mail: one to the customer when a registration fails.

A registration that the registry turns down (or that our checks stop because the
customer's data do not fit the registry's rules) is mailed once, whatever happens
after: a retry by staff that fails again mails nothing new (the dedupe key names the
registration, not the attempt). The mail is queued in the transaction that marks the
registration failed. It gives the cause in plain words; the registry's own message
is for the domains desk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from kluis.domains import shop_link
from kluis.domains.models import DomainRegistration
from kluis.domains.registries import REGISTRIES
from kluis.mail.kinds import mail_kind
from kluis.mail.models import OutboxMessage
from kluis.mail.services import mail_queue
from kluis.policy.enforce import Actor

REGISTRATION_FAILED = "domains/email/registration_failed"
PURPOSE = "order_status"
MAILER = Actor.system("domains.mail")


class Cause:
    TAKEN = "taken"  # 2302 at create: someone else registered it first
    REJECTED = "rejected"  # the registry's rules (2306, 2005, 2004, 2003)
    DATA = "data"  # our check: the customer's data do not fit the registry's rules
    OTHER = "other"


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


def dedupe_key(registration: DomainRegistration) -> str:
    return f"domains:registration:{registration.pk}:failed"


@mail_kind(template=REGISTRATION_FAILED, purpose=PURPOSE, references={"registration", "cause"})
def _failed_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
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
        "cause": CAUSES.get(str(context["cause"]), CAUSES[Cause.OTHER]),
    }


def mail_registration_failed(registration: DomainRegistration, cause: str) -> OutboxMessage:
    """Queue the one failure mail of `registration` (in the caller's transaction)."""
    order = registration.order
    customer = order.customer
    assert customer.email is not None
    return mail_queue(
        template=REGISTRATION_FAILED,
        to_subject=customer.id,
        recipient_email=str(customer.email.reveal(purpose=PURPOSE, actor=MAILER)),
        language=order.language,
        context={"registration": registration.pk, "cause": cause},
        dedupe_key=dedupe_key(registration),
    )
