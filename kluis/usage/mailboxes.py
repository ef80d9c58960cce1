"""The customer's mailboxes: held by a delivered package with mail, ended with it.

A package (kluis/shop `Product.mailboxes`) holds a number of mailboxes. Its
delivery starts a subscription; the customer then gives the addresses in the
portal, each under a domain name of their own that we register for them, up to
that number, and may remove one to make room for another. The order holds no
address, so there is no better source for them. The address is the customer's own
contact data: it is sealed under their key (`Mailbox.address`), found by its blind
index, and never written to the audit chain. When the subscription has run past its
last day, its mailboxes end; the log ingest counts only running mailboxes.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

import idna
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kluis.accounts.models import Customer
from kluis.audit.chain import audit_append
from kluis.shop.models import DomainName, OrderLine, Subscription
from kluis.sites.models import Site
from kluis.usage.models import Mailbox
from kluis.vault.errors import RevealRefused
from kluis.vault.fields import BlindIndexField

SYNC_ACTOR = "system:mailboxes_sync"
LOCAL_PART = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


class MailboxError(Exception):
    """Why a mailbox could not be added or removed, in Dutch for the customer."""


@dataclass(frozen=True)
class Package:
    subscription: Subscription
    limit: int
    running: int

    @property
    def room(self) -> int:
        return max(self.limit - self.running, 0)


def _running_packages(customer_id: uuid.UUID, today: dt.date) -> list[Subscription]:
    return [
        s
        for s in Subscription.objects.filter(
            customer_id=customer_id, kind=OrderLine.Kind.PRODUCT, product__mailboxes__gt=0
        ).select_related("product")
        if not s.has_ended(today)
    ]


def packages_of(customer: Customer, today: dt.date | None = None) -> list[Package]:
    """The customer's running packages with mail, with how many mailboxes each holds."""
    day = today or timezone.localdate()
    subscriptions = _running_packages(customer.pk, day)
    counts: dict[int, int] = {}
    for sub_id in Mailbox.objects.filter(
        subscription__in=subscriptions, ended_at__isnull=True
    ).values_list("subscription_id", flat=True):
        counts[sub_id] = counts.get(sub_id, 0) + 1
    out = []
    for s in subscriptions:
        assert s.product is not None
        out.append(Package(s, s.product.mailboxes, counts.get(s.pk, 0)))
    return out


def address_clean(text: str) -> str:
    """`local@domain` in the form Postfix logs it: lower case, the domain in ASCII."""
    value = text.strip()
    local, at, domain = value.rpartition("@")
    local = local.lower()
    if not at or not local or not domain or len(local) > 64 or not LOCAL_PART.fullmatch(local):
        raise MailboxError(_("Vul een e-mailadres in, zoals info@jouwdomein.nl."))
    try:
        ascii_domain = idna.encode(domain.rstrip("."), uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        raise MailboxError(_("Het deel na de @ is geen geldige domeinnaam.")) from None
    address = f"{local}@{ascii_domain}"
    try:
        validate_email(address)
    except ValidationError:
        raise MailboxError(_("Vul een e-mailadres in, zoals info@jouwdomein.nl.")) from None
    return address


def _own_domain(customer: Customer, domain: str, today: dt.date) -> bool:
    """Whether `domain` is a name we register for the customer, found by its blind
    index: no domain name is revealed to check it."""
    field = DomainName._meta.get_field("name_index")
    assert isinstance(field, BlindIndexField)
    index = field.lookup_value(domain)
    running = Subscription.objects.filter(
        customer=customer,
        kind=OrderLine.Kind.DOMAIN,
        domain_name__name_index=index,
    ).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
    return running.exists()


def _address_index(address: str) -> str:
    field = Mailbox._meta.get_field("address_index")
    assert isinstance(field, BlindIndexField)
    return field.lookup_value(address)


def mailbox_add(
    customer: Customer, subscription_id: int, text: str, *, actor: str, today: dt.date | None = None
) -> Mailbox:
    """A running mailbox at `text` in the customer's package; MailboxError says why not."""
    day = today or timezone.localdate()
    address = address_clean(text)
    if not _own_domain(customer, address.rpartition("@")[2], day):
        raise MailboxError(_("Dit adres valt niet onder een domeinnaam die je bij ons hebt lopen."))
    with transaction.atomic():
        # The package row is locked, so two additions at once cannot pass its limit.
        subscription = (
            Subscription.objects.select_for_update()
            .filter(
                pk=subscription_id,
                customer=customer,
                kind=OrderLine.Kind.PRODUCT,
                product__mailboxes__gt=0,
            )
            .first()
        )
        if subscription is None or subscription.has_ended(day):
            raise MailboxError(_("Dit pakket heeft geen mailboxen (meer)."))
        assert subscription.product is not None
        running = Mailbox.objects.filter(subscription=subscription, ended_at__isnull=True)
        if running.count() >= subscription.product.mailboxes:
            raise MailboxError(
                _("Alle mailboxen van dit pakket zijn in gebruik. Verwijder er eerst een.")
            )
        if Mailbox.objects.filter(
            address_index=_address_index(address), ended_at__isnull=True
        ).exists():
            raise MailboxError(_("Dit adres is al een mailbox."))
        box = Mailbox(
            customer=customer,
            subscription=subscription,
            site=Site.objects.filter(subscription=subscription).first(),
            address=address,
        )
        try:
            with transaction.atomic():
                box.save()
        except IntegrityError:
            raise MailboxError(_("Dit adres is al een mailbox.")) from None
        audit_append(
            action="usage.mailbox_added",
            actor=actor,
            subject=customer.pk,
            data={"mailbox": str(box.pk), "subscription": subscription.pk},
        )
    return box


def mailbox_end(box: Mailbox, *, actor: str, action: str = "usage.mailbox_removed") -> bool:
    """End a running mailbox, audited; False if it had ended already."""
    with transaction.atomic():
        ended = Mailbox.objects.filter(pk=box.pk, ended_at__isnull=True).update(
            ended_at=timezone.now()
        )
        if ended:
            audit_append(
                action=action,
                actor=actor,
                subject=box.customer_id,
                data={"mailbox": str(box.pk), "subscription": box.subscription_id},
            )
    return bool(ended)


def mailbox_end_on_request(
    customer: Customer, mailbox_id: uuid.UUID, *, actor: str
) -> tuple[Mailbox, bool]:
    """Support ends a running mailbox because the customer asked; the customer gets one
    mail about it, queued with the change. MailboxError if it had ended already.

    Returns the mailbox and whether the mail was queued. While the customer has their
    processing restricted (art. 18 GDPR) the policy does not let kluis open their
    address for account management, so the mail is held: the mailbox still ends (the
    customer asked for that), the vault records the refused reveal, the end's audit
    entry says the mail was held, and the desk tells support to confirm it through
    the channel the customer asked on (README "Usage statistics")."""
    from kluis.usage.emails import mail_mailbox_ended

    with transaction.atomic():
        box = Mailbox.objects.filter(pk=mailbox_id, customer=customer).first()
        if box is None or not mailbox_end(box, actor=actor, action="usage.mailbox_ended_by_staff"):
            raise MailboxError(_("Deze mailbox is al beëindigd."))
        try:
            mail_mailbox_ended(box)
        except RevealRefused as exc:
            # Refused before anything was queued: nothing to undo.
            audit_append(
                action="usage.mailbox_end_mail_held",
                actor=actor,
                subject=customer.pk,
                data={"mailbox": str(box.pk), "reason": str(exc)},
            )
            return box, False
    return box, True


def mailbox_remove(customer: Customer, mailbox_id: uuid.UUID, *, actor: str) -> None:
    box = Mailbox.objects.filter(pk=mailbox_id, customer=customer, ended_at__isnull=True).first()
    if box is None:
        raise MailboxError(_("Deze mailbox bestaat niet (meer)."))
    mailbox_end(box, actor=actor)


def mailboxes_sync(today: dt.date | None = None) -> int:
    """End the running mailboxes whose package has run past its last day; how many."""
    day = today or timezone.localdate()
    ended = 0
    running = Mailbox.objects.filter(
        ended_at__isnull=True, subscription__isnull=False, subscription__ends_on__lt=day
    ).select_related("subscription")
    for box in running:
        assert box.subscription is not None
        if box.subscription.has_ended(day):
            mailbox_end(box, actor=SYNC_ACTOR, action="usage.mailbox_ended")
            ended += 1
    return ended
