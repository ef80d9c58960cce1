import uuid
from collections.abc import Mapping

from django import template

from kluis.billing.models import Invoice, Payment
from kluis.billing.pdf import euro

register = template.Library()


@register.filter
def money(cents: int) -> str:
    """Euro from cents, negative amounts (credit notes) included."""
    return euro(int(cents))


@register.filter
def minus(cents: int) -> int:
    """The amount taken off (a chargeback), shown negative."""
    return -int(cents)


@register.filter
def pay_token(invoice: Invoice) -> str:
    """The signed token of the invoice's "Betalen met iDEAL" link."""
    from kluis.billing.online import pay_token as token

    return token(invoice)


@register.filter
def iban_tail(payment: Payment, tails: Mapping[uuid.UUID, str]) -> str:
    """The last four of the account a payment came from, as revealed for this page."""
    return tails.get(payment.pk, "")


@register.simple_tag
def collections_todo() -> dict[str, int]:
    """What waits on the reminders and collections page, for the finance overview."""
    from django.utils import timezone

    from kluis.billing.dunning import handovers_open, overdue_standings
    from kluis.billing.models import CollectionHandover

    open_handovers = list(handovers_open().values_list("status", flat=True))
    return {
        "eligible": sum(s.eligible for s in overdue_standings(timezone.localdate())),
        "to_decide": open_handovers.count(CollectionHandover.Status.PROPOSED),
        "to_tell": open_handovers.count(CollectionHandover.Status.PAID_AFTER_HANDOVER),
        "charged_back": CollectionHandover.objects.filter(
            status=CollectionHandover.Status.APPROVED,
            charged_back_at__isnull=False,
            collector_told_at__isnull=True,
        ).count(),
    }
