"""Everything the domains app knows about the shop's models, in one place.

Domain names are read through `domain_of`, consent through `non_eu_consent`, the
order's move to "in behandeling" arrives through the shop's move handlers, and the
shop asks availability through the checker registered here. When the
shop changes how it keeps a domain name (sealed or not), only this module changes.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kluis.accounts.models import Customer, User
    from kluis.policy.enforce import Actor
    from kluis.shop.availability import Answer
    from kluis.shop.models import Order, OrderLine


MASK = "\u2022" * 8


def domain_of(line: OrderLine) -> str:
    """The line's domain name, revealed from its sealed row for the registration.

    One reveal per call, audited, by the domains worker for `domain_registration`.
    A name whose key was shredded (the customer was erased) cannot be registered.
    """
    from kluis.policy.enforce import Actor
    from kluis.shop.domains import domains_reveal

    (name,) = domains_reveal([line], purpose="domain_registration", actor=Actor.system("domains"))
    if not name:
        raise DomainGone(line.pk)
    return name.strip().lower()


def domains_of(lines: list[OrderLine]) -> dict[int, str | None]:
    """The domain names of `lines` for a batch of registrations: one audited reveal.

    None for a line whose name's key was shredded (domain_of raises DomainGone there).
    """
    from kluis.policy.enforce import Actor
    from kluis.shop.domains import domains_reveal

    names = domains_reveal(lines, purpose="domain_registration", actor=Actor.system("domains"))
    return {
        line.pk: name.strip().lower() if name else None
        for line, name in zip(lines, names, strict=True)
    }


def domain_shown(line: OrderLine, *, purpose: str, actor: Actor) -> str:
    """The line's domain name as the customer wrote it (é, not xn--), for `purpose`."""
    (name,) = domains_shown([line], purpose=purpose, actor=actor)
    return name


def domains_shown(lines: list[OrderLine], *, purpose: str, actor: Actor) -> list[str]:
    """Each line's domain name as the customer wrote it, revealed at once for `purpose`."""
    from kluis.shop.domains import domains_reveal
    from kluis.shop.forms import domain_shown as unicode_name

    plain = domains_reveal(lines, purpose=purpose, actor=actor)
    return [
        unicode_name(name) if name else domain_masked(line)
        for line, name in zip(lines, plain, strict=True)
    ]


def paid_periods(invoice_numbers: list[str]) -> list[tuple[int, dt.date, str]]:
    """(order line, period start, invoice) of each subscription period on the invoices.

    A statement import asks this for thousands of invoices at once: `among` passes
    their numbers as they are, where `__in` prepares and checks each one.
    """
    from kluis.billing.bulk import among
    from kluis.shop.models import SubscriptionRenewal

    return list(
        SubscriptionRenewal.objects.filter(
            among(SubscriptionRenewal, "invoice_number", invoice_numbers)
        ).values_list("subscription__line_id", "period_start", "invoice_number")
    )


def first_periods(line_ids: list[int]) -> dict[int, tuple[dt.date, dt.date]]:
    """(first day, last day) of the first period of each delivered line's subscription:
    the period the order itself paid for."""
    from kluis.shop.models import Subscription, period_after

    rows = Subscription.objects.filter(line_id__in=line_ids).values_list(
        "line_id", "started_on", "period"
    )
    return {
        line: (start, period_after(start, period, start.day) - dt.timedelta(days=1))
        for line, start, period in rows
    }


def lines_of_domain(name: str) -> list[int]:
    """The order lines of a domain name, found through its blind index (no reveal)."""
    from kluis.shop.models import DomainName, OrderLine
    from kluis.vault.fields import BlindIndexField

    field = DomainName._meta.get_field("name_index")
    assert isinstance(field, BlindIndexField)
    value = field.lookup_value(name.strip().lower())
    return list(
        OrderLine.objects.filter(domain_name__name_index=value).values_list("pk", flat=True)
    )


def tld_of(line: OrderLine) -> str:
    """The extension the line was ordered under, without revealing the name."""
    return line.extension.tld if line.extension is not None else ""


def domain_masked(line: OrderLine) -> str:
    """The name as a list shows it outside a case: masked but for its extension."""
    tld = tld_of(line)
    return f"{MASK}.{tld}" if tld else MASK


class DomainGone(Exception):
    """The line has no readable domain name (none stored, or its key was shredded)."""


def domain_lines(order: Order) -> list[OrderLine]:
    from kluis.shop.models import OrderLine

    return list(order.lines.filter(kind=OrderLine.Kind.DOMAIN).order_by("position"))


def customer_of(order: Order) -> Customer:
    return order.customer


def wanted_statuses() -> tuple[str, ...]:
    """The order statuses in which its domains are still wanted."""
    from kluis.shop.models import Order

    return (Order.Status.IN_PROGRESS, Order.Status.DELIVERED)


def still_wanted(order: Order) -> bool:
    """False once the order was cancelled or withdrawn: then nothing is registered."""
    return order.status in wanted_statuses()


def non_eu_consent(order: Order) -> str:
    """The evidence of the order's consent to a non-EU registry, or "" when there is none.

    Consent counts only with all three: the order's flag, the WHOIS/RDAP notice's
    version on the order, and the customer's acceptance of that notice for this order.
    """
    from kluis.shop.models import Acceptance

    if not order.non_eu_consent or not order.whois_notice_version:
        return ""
    acceptance = (
        Acceptance.objects.filter(
            order=order,
            customer_id=order.customer_id,
            document=Acceptance.Document.WHOIS_NOTICE,
            version=order.whois_notice_version,
        )
        .order_by("accepted_at")
        .first()
    )
    return f"acceptance:{acceptance.pk}" if acceptance is not None else ""


def _on_order_moved(order: Order, before: str, by: User | None) -> bool:
    from kluis.domains.services import registrations_queue
    from kluis.shop.models import Order

    if order.status == Order.Status.IN_PROGRESS:
        registrations_queue(order=order)
    return False  # the shop's own status mail tells the customer


def _check(domain: str, client_address: str) -> Answer:
    from kluis.domains.availability import domain_available

    return domain_available(domain, client_address)


def _transfer_clean(domain: str, code: str) -> str:
    from kluis.domains.transfers import TransferCodeRefused, transfer_code_clean
    from kluis.shop.availability import TransferRefused

    try:
        return transfer_code_clean(domain, code)
    except TransferCodeRefused as exc:
        raise TransferRefused(str(exc)) from None


def _transfer_keep(line_id: int, code: str) -> None:
    from kluis.domains.transfers import transfer_code_store

    transfer_code_store(line_id=line_id, code=code)


def connect() -> None:
    from kluis.domains.registries import BY_TLD
    from kluis.shop.availability import TransferDesk, register_checker, register_transfers
    from kluis.shop.domains import register_registry_recipients
    from kluis.shop.moves import register_move_handler

    register_move_handler(_on_order_moved)
    register_checker(_check)
    register_registry_recipients({tld: registry.recipient for tld, registry in BY_TLD.items()})
    register_transfers(TransferDesk(clean=_transfer_clean, keep=_transfer_keep))


def subscription_of(line: OrderLine) -> int | None:
    """The id of the subscription the line started, if it started one."""
    from kluis.shop.models import Subscription

    return Subscription.objects.filter(line=line).values_list("pk", flat=True).first()
