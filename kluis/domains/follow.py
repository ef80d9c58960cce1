"""Data follows the data (art. 19 GDPR) at the registries, and erasure waits for domains.

- **Rectification.** When a customer's record is corrected, rights notes a follow-up
  for each recipient that had the old data. For a registry that holds a contact of
  this customer, the worker's `domains_contact_updates` job sends the corrected
  contact (<contact:update>), writes the send to the disclosure ledger and closes the
  follow-up, in one transaction after the registry's yes. A contact:update sent twice
  after a crash changes nothing the second time. A registry that cannot be reached,
  or data the registry's rules refuse, leave the follow-up open for the next run and
  for staff.
- **A changed legal form.** SIDN holds an organisation's legal form in its contact
  (SIDN's contact extension). When the customer changes it in the account, a follow-up
  is noted for each such registry where the customer has a live contact, in the same
  transaction as the change, and the same job sends the contact with its new legal form.
  A follow-up already open for that registry carries it along (the update sends the
  whole contact).
- **Contacts no domain needs.** The worker's `domains_contacts_cleanup` job deletes at
  the registry a contact of ours that no pending or registered domain of the customer
  there needs any more (after a failed registration, a transfer away, an end); the
  registry refuses while the contact is still linked (2305), and the job tries again
  later. A contact needed again later is created anew under the same handle.
- **Erasure.** A domain registered in the customer's name holds back an erasure
  until its term ends: the registry keeps the holder's data as long as the domain
  runs, and a domain cannot run without a holder.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from kluis.accounts.models import Customer
from kluis.audit.chain import audit_append
from kluis.domains.epp import responses as codes
from kluis.domains.epp.client import EppCommandFailed, EppError
from kluis.domains.models import DomainRegistration, RegistryContact
from kluis.domains.registries import REGISTRIES
from kluis.domains.services import (
    ACTOR,
    PURPOSE,
    RegistrationRefused,
    SessionFor,
    _categories,
    _contact_for,
    _session,
    ledger_send,
    reveal_contacts,
)
from kluis.policy.enforce import Actor, check_disclosure
from kluis.rights.erasure import Blocker
from kluis.rights.models import FollowUp


def contact_updates_run(*, session_for: SessionFor = _session) -> str:
    """Send each registry the contacts corrected since (the worker's job)."""
    by_recipient = {r.recipient: r for r in REGISTRIES.values()}
    open_ones = list(
        FollowUp.objects.filter(done_at__isnull=True, recipient__in=list(by_recipient))
    )
    sent = waiting = 0
    for follow_up in open_ones:
        registry = by_recipient[follow_up.recipient]
        contact = RegistryContact.objects.filter(
            customer_id=follow_up.subject, registry=registry.key
        ).first()
        customer = Customer.objects.filter(pk=follow_up.subject).first()
        if contact is None or customer is None:
            waiting += 1  # nothing of ours there to correct: for staff to judge
            continue
        # A contact:update carries the whole contact: the ledger names all of it.
        categories = _categories(customer, registry)
        check_disclosure(recipient=registry.recipient, purpose=PURPOSE, categories=categories)
        plain = reveal_contacts([customer])[customer.pk]
        try:
            data = _contact_for(customer, registry, plain, contact.handle)
            with session_for(registry) as epp:
                epp.contact_update(data)
        except (RegistrationRefused, EppError):
            waiting += 1
            continue
        with transaction.atomic():
            if FollowUp.objects.filter(pk=follow_up.pk, done_at__isnull=True).update(
                done_at=timezone.now()
            ):
                ledger_send(
                    customer.id,
                    registry,
                    categories,
                    f"follow-up:{follow_up.pk} contact:{contact.handle}",
                )
                audit_append(
                    action="rights.follow_up_done",
                    actor=ACTOR.ref,
                    subject=customer.pk,
                    data={
                        "recipient": registry.recipient,
                        "categories": sorted(follow_up.categories),
                    },
                )
                sent += 1
    return f"{sent} contacts updated at registries, {waiting} follow-ups waiting"


# The legal form belongs to the organisation's details, beside its name.
LEGAL_FORM_CATEGORY = "user.contact.organization"


def legal_form_follow_ups(customer: Customer, by: Actor) -> None:
    """Note a follow-up for each registry that holds this customer's legal form."""
    live = set(
        RegistryContact.objects.filter(customer=customer, deleted_at=None).values_list(
            "registry", flat=True
        )
    )
    for registry in REGISTRIES.values():
        if not registry.legal_form or registry.key not in live:
            continue
        if FollowUp.objects.filter(
            subject=customer.pk, recipient=registry.recipient, done_at__isnull=True
        ).exists():
            continue
        FollowUp.objects.create(
            subject=customer.pk, recipient=registry.recipient, categories=[LEGAL_FORM_CATEGORY]
        )
        audit_append(
            action="rights.follow_up_noted",
            actor=by.ref,
            subject=customer.pk,
            data={"recipient": registry.recipient, "categories": [LEGAL_FORM_CATEGORY]},
        )


_ACTIVE = (
    DomainRegistration.Status.PENDING,
    DomainRegistration.Status.TRANSFER_PENDING,
    DomainRegistration.Status.REGISTERED,
)


def contacts_cleanup_run(*, session_for: SessionFor = _session) -> str:
    """Delete at each registry the contacts that no running domain there needs any more.

    The registry refuses a contact still linked to a domain (2305, for instance after a
    transfer away, until the new registrar replaces the holder): it stays for a later
    run. One already gone (2303) counts as deleted.
    """
    needed = DomainRegistration.objects.filter(
        order__customer_id=OuterRef("customer_id"),
        registry=OuterRef("registry"),
        status__in=_ACTIVE,
    )
    unneeded = RegistryContact.objects.filter(deleted_at=None).exclude(Exists(needed))
    deleted = waiting = 0
    for contact in unneeded:
        registry = REGISTRIES.get(contact.registry)
        if registry is None:
            continue
        try:
            with session_for(registry) as epp:
                epp.contact_delete(contact.handle)
        except EppCommandFailed as exc:
            if exc.code != codes.OBJECT_DOES_NOT_EXIST:
                waiting += 1
                continue
        except EppError:
            waiting += 1
            continue
        with transaction.atomic():
            RegistryContact.objects.filter(pk=contact.pk).update(deleted_at=timezone.now())
            audit_append(
                action="domains.contact_deleted",
                actor=ACTOR.ref,
                subject=contact.customer_id,
                data={"registry": registry.key},
            )
        deleted += 1
    return f"{deleted} contacts deleted at registries, {waiting} still linked or unreachable"


def running_domains(subject: uuid.UUID) -> list[Blocker]:
    today = timezone.localdate()
    running = (
        DomainRegistration.objects.filter(order__customer_id=subject)
        .filter(
            status__in=(
                DomainRegistration.Status.PENDING,
                DomainRegistration.Status.TRANSFER_PENDING,
            )
        )
        .count()
        + DomainRegistration.objects.filter(
            order__customer_id=subject,
            status=DomainRegistration.Status.REGISTERED,
            expires_on__gte=today,
        ).count()
    )
    if not running:
        return []
    return [
        Blocker(
            key="domains.running_domain",
            reason_nl=(
                "Er staat nog 1 domeinnaam op je naam bij een registry."
                if running == 1
                else f"Er staan nog {running} domeinnamen op je naam bij registry's."
            ),
            reason_en=(
                "1 domain name is still registered in your name at a registry."
                if running == 1
                else f"{running} domain names are still registered in your name at registries."
            ),
            next_nl=(
                "Verhuis ze naar een andere provider (vraag de verhuiscode aan in je "
                "klantportaal) of zeg ze op; als hun termijn voorbij is, wissen we je gegevens."
            ),
            next_en=(
                "Transfer them to another provider (request the transfer code in your "
                "customer portal) or cancel them; once their term is over, we erase your data."
            ),
        )
    ]
