"""A renewal paid after the delete restores the domain while the registry still can.

A domain deleted for non-payment stays restorable at some registries for their
`redemption_days` (kluis/domains/registries.py, `restore_method`). When the customer's
late payment arrives in that time (kluis/domains/late_payments.py finds it as a refund
proposal on the credited renewal invoice), the hourly `domains_expiry` job restores the
domain instead of proposing the money back:

- **Registry,** by its own method:
  - RFC 3915 (`rgp`: .com, .net, .org, .eu): `<rgp:restore op="request">`; the registry
    then holds the domain in pendingRestore and waits for the registrar's restore report
    (RFC 3915 §3.2, §4.2.5), which is sent next: the domain's data (no personal data:
    name, ROID, the handles the registry holds), the delete and restore times, the
    reason, and the two statements. A registry that restores at once (no
    pendingRestore) gets no report.
  - SIDN (.nl): its own `<sidn-ext-epp:domainCancelDelete>` takes the name out of its
    quarantine (40 days). SIDN renews a .nl by itself: the name comes back with its
    old expiry date, and where that passed in quarantine SIDN renews it a year from
    that date; either way the paid term is the year from the old expiry (below).
  The domain's <info> afterwards must show it active and ours.
- **Books,** after the registry's yes, in one transaction: the registration is
  registered again with the registry's expiry, billing reinstates the renewal
  (kluis/billing/reinstate.py: the refund proposal withdrawn and set off against a new
  invoice for the restored term, the subscription renewing again), the paid term is
  queued for <renew> (at a registry that renews by itself: closed as paid, its new date
  read after the expiry), or, when the registry's expiry already lies past the old one,
  recorded as renewed by the registry; one mail (nl/en) that says so and carries the
  new invoice as a PDF (billing sends that invoice no mail of its own), and the audit
  entry `domains.restored`.
- **Order, and why.** The registry first, then the books: a restore the registry
  refuses (2304: the period is over; 2303: purged; 2201: not ours) changes nothing here, and the
  refund proposal and its mail stay as they were. A run killed between the registry's
  yes and the commit finds, next hour, the domain active and ours at the registry and
  finishes the books (nothing is sent twice: a pendingRestore left behind gets only its
  report). Were the books first, a refusal would have to undo an issued invoice, which
  only a credit note can. The one step that can fail after the registry's yes is the
  books refusing (a finance user approved the refund proposal in between): then the
  domain is deleted at the registry again (back in redemption or quarantine; the
  compensating step, audited
  `domains.restore_undone`) and the refund goes its way. VIES not answering (the
  VAT check of a business customer's new invoice) is no refusal: the next run
  finishes the books.
- **Not offered:** a registry without a `restore_method` (DNS Belgium, DENIC), one
  with `restore` off, after
  `redemption_days`, or when the refund proposal was decided already (approved, in a
  payment file): then the refund path as before. A registry that cannot be reached
  (EppError) leaves it for the next run, until the period is over.
- **Fee.** A registry's `restore_fee_cents` is charged as a line of the new invoice;
  what the payment does not cover of it stays open on that invoice.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, override

from kluis.audit.chain import audit_append
from kluis.domains import shop_link
from kluis.domains.emails import domain_context, mail_to_customer
from kluis.domains.epp import commands as cmd
from kluis.domains.epp import responses as codes
from kluis.domains.epp.client import EppClient, EppCommandFailed
from kluis.domains.epp.responses import DomainInfo
from kluis.domains.models import DomainRegistration, DomainRenewal
from kluis.domains.registries import REGISTRIES, RESTORE_SIDN, Registry
from kluis.domains.services import ACTOR, SessionFor, _local_date
from kluis.formats import euro, long_date
from kluis.mail.kinds import mail_kind
from kluis.policy.enforce import Actor

if TYPE_CHECKING:
    from kluis.domains.late_payments import LatePayment

log = logging.getLogger(__name__)

RESTORED = "domains/email/restored"
PURPOSE = "order_status"
REASON = "The registrant paid the renewal after the registrar deleted the domain for non-payment."
STATEMENTS = (
    "This registrar has not restored the Registered Name in order to assume the rights to "
    "use or sell the Registered Name for itself or for any third party.",
    "The information in this report is true to best of this registrar's knowledge, and this "
    "registrar acknowledges that intentionally supplying false information in this report "
    "shall constitute an incomplete application to restore the Registered Name.",
)


class Outcome(enum.Enum):
    RESTORED = "restored"
    # Not restored: the refund proposal stands (the mail of late_payments tells it).
    REFUND = "refund"
    # Restored at the registry, the books wait for VIES to answer: the next run.
    WAITING = "waiting"


@mail_kind(
    template=RESTORED, purpose=PURPOSE, references={"registration", "expires", "invoice", "open"}
)
def _restored_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    """The restore and the new invoice in one mail: the invoice's PDF is attached, and
    what is still open on it (a restore fee) comes with how to pay it, as in the
    invoice mail."""
    from kluis.billing.emails import ideal_url
    from kluis.billing.models import Invoice
    from kluis.billing.payee import payee

    open_cents = int(context["open"])
    invoice = Invoice.objects.get(number=str(context["invoice"]))
    return {
        **domain_context(context, actor),
        "expires": long_date(str(context["expires"])),
        "invoice": invoice.number,
        "open": euro(open_cents) if open_cents > 0 else "",
        "due_date": long_date(invoice.due_date),
        "payment_reference": invoice.payment_reference,
        "payee": payee(),
        "ideal_url": ideal_url(invoice) if open_cents > 0 else "",
    }


def restored_key(registration: DomainRegistration) -> str:
    return f"domains:restored:{registration.pk}"


def offered(registration: DomainRegistration, now: dt.datetime) -> bool:
    """Whether a late payment may restore it: deleted for non-payment at a registry that
    keeps a deleted domain restorable (redemption, quarantine), and still within that."""
    registry = REGISTRIES.get(registration.registry)
    return (
        registry is not None
        and registry.restorable_days > 0
        and registration.status == DomainRegistration.Status.DELETED
        and registration.end_reason == DomainRegistration.EndReason.UNPAID
        and registration.deleted_at is not None
        and now < registration.deleted_at + dt.timedelta(days=registry.restorable_days)
    )


def _report(name: str, info: DomainInfo, deleted_at: dt.datetime) -> cmd.RestoreReport:
    lines = [f"Domain Name: {name}", f"Registry Domain ID: {info.roid}"]
    lines += [f"Registrant: {info.registrant}"] if info.registrant else []
    lines += [f"Contact ({kind}): {handle}" for kind, handle in info.contacts]
    lines += [f"Name Server: {host}" for host in info.nameservers]
    data = "\n".join(lines)
    return cmd.RestoreReport(
        pre_data=data,
        post_data=data,
        deleted_at=deleted_at,
        restored_at=timezone.now(),
        reason=REASON,
        statements=STATEMENTS,
    )


def _ours_and_active(epp: EppClient, info: DomainInfo) -> bool:
    return (
        info.sponsor == epp.endpoint.client_id
        and "pendingDelete" not in info.statuses
        and not info.rgp_statuses
    )


def _at_registry(
    epp: EppClient, registry: Registry, name: str, registration: DomainRegistration
) -> tuple[DomainInfo | None, str]:
    """Restore `name` at the registry by its method: its <info> once active and ours, or
    None and the registry's words. Picks up where a killed run stopped (restored, or at
    an RFC 3915 registry requested and not reported)."""
    assert registration.deleted_at is not None
    try:
        info = epp.domain_info(name)
        if _ours_and_active(epp, info):
            return info, ""  # restored by a run that was killed before its commit
        if registry.restore_method == RESTORE_SIDN:
            # SIDN: out of quarantine in one command, nothing to report.
            epp.domain_cancel_delete(name)
        elif "redemptionPeriod" in info.rgp_statuses:
            answer = epp.domain_restore(name)
            if "pendingRestore" in codes.rgp_statuses(answer):
                epp.domain_restore_report(name, _report(name, info, registration.deleted_at))
        elif "pendingRestore" in info.rgp_statuses:
            epp.domain_restore_report(name, _report(name, info, registration.deleted_at))
        else:
            return None, f"not restorable: {', '.join(info.rgp_statuses or info.statuses)}"
        info = epp.domain_info(name)
    except EppCommandFailed as exc:
        return None, exc.response.explain()
    if not _ours_and_active(epp, info):
        return None, f"not active after the restore: {', '.join(info.statuses)}"
    return info, ""


def _after_restore(registration: DomainRegistration) -> None:
    """The moment between the registry's yes and our commit (tests crash here)."""


def _fee_line(registry: Registry, registration: DomainRegistration) -> Any:
    from kluis.billing.services import LineInput
    from kluis.shop.models import DOMAIN_MARK

    if registry.restore_fee_cents <= 0:
        return None
    # In the language of the invoice it goes on (the customer's, as a renewal's).
    language = "en" if registration.order.customer.language == "en" else "nl"
    with override(language):
        text = gettext("Herstel van %(domain)s na opheffing wegens niet betalen") % {
            "domain": DOMAIN_MARK
        }
    return LineInput(
        text, registry.restore_fee_cents, domain=shop_link.domain_of(registration.line)
    )


def _books(
    registration: DomainRegistration, late: LatePayment, info: DomainInfo, registry: Registry
) -> bool:
    """Registered again, the renewal reinstated, the term queued, mailed, audited: one
    transaction. False when it was done already."""
    from kluis.billing.emails import invoice_attachment
    from kluis.billing.reinstate import renewal_reinstate

    assert info.expires is not None
    at_registry = _local_date(info.expires)
    with transaction.atomic():
        locked = (
            DomainRegistration.objects.select_for_update(of=("self",))
            .select_related("order__customer", "line")
            .get(pk=registration.pk)
        )
        if locked.status != DomainRegistration.Status.DELETED:
            return False
        ended_term = locked.expires_on
        subscription_id = shop_link.subscription_of(locked.line)
        assert subscription_id is not None  # a late payment has its subscription
        locked.status = DomainRegistration.Status.REGISTERED
        locked.expires_on = at_registry
        locked.deleted_at = None
        locked.end_reason = ""
        locked.last_error = ""
        locked.save(
            update_fields=["status", "expires_on", "deleted_at", "end_reason", "last_error"]
        )
        reinstated = renewal_reinstate(
            subscription_id=subscription_id,
            refunds=late.refunds,
            actor_ref=ACTOR.ref,
            fee=_fee_line(registry, locked),
            mail_invoice=False,  # this module's mail carries it
        )
        start = reinstated.period[0]
        if ended_term is not None and at_registry > ended_term:
            # The registry's restore brought the term back with it: nothing to renew.
            DomainRenewal.objects.update_or_create(
                registration=locked,
                period_start=start,
                defaults={
                    "invoice_number": reinstated.invoice.number,
                    "status": DomainRenewal.Status.BY_REGISTRY,
                    "expires_before": ended_term,
                    "expires_after": at_registry,
                    "renewed_at": timezone.now(),
                },
            )
        else:
            # Paid (set off, or open for a fee that dunning collects): renewed next.
            DomainRenewal.objects.get_or_create(
                registration=locked,
                period_start=start,
                defaults={
                    "invoice_number": reinstated.invoice.number,
                    "expires_before": at_registry,
                },
            )
        mail_to_customer(
            locked,
            RESTORED,
            PURPOSE,
            {
                "registration": locked.pk,
                "expires": reinstated.period[1].isoformat(),
                "invoice": reinstated.invoice.number,
                "open": reinstated.invoice.open_cents,
            },
            restored_key(locked),
            attachments=[invoice_attachment(reinstated.invoice)],
        )
        audit_append(
            action="domains.restored",
            actor=ACTOR.ref,
            subject=locked.order.customer_id,
            data={
                "registration": locked.pk,
                "registry": registry.key,
                "invoice": reinstated.invoice.number,
                "refunds": [r.pk for r in late.refunds],
                "expires_on": at_registry.isoformat(),
            },
        )
    return True


def _undo(
    epp_for: SessionFor, registry: Registry, name: str, registration: DomainRegistration, why: str
) -> None:
    """The compensating step: the books refused after the registry restored, so the
    domain goes back to where it was (deleted, in redemption again)."""
    with epp_for(registry) as epp:
        epp.domain_delete(name)
    DomainRegistration.objects.filter(pk=registration.pk).update(
        last_error=f"{registry.name}: restored, then deleted again ({why})"[:500]
    )
    audit_append(
        action="domains.restore_undone",
        actor=ACTOR.ref,
        subject=registration.order.customer_id,
        data={"registration": registration.pk, "registry": registry.key, "why": why},
    )


def restore_late(late: LatePayment, *, session_for: SessionFor, now: dt.datetime) -> Outcome:
    """Restore the domain of a late payment at its registry and reinstate its renewal;
    safe to run again (see the module's text)."""
    from kluis.billing.models import Refund
    from kluis.billing.services import BillingError
    from kluis.billing.vat import VatError

    registration = late.registration
    if not offered(registration, now) or any(
        r.status != Refund.Status.PROPOSED for r in late.refunds
    ):
        return Outcome.REFUND
    registry = REGISTRIES[registration.registry]
    name = shop_link.domain_of(registration.line)
    with session_for(registry) as epp:
        info, words = _at_registry(epp, registry, name, registration)
    if info is None:
        DomainRegistration.objects.filter(pk=registration.pk).update(
            last_error=f"{registry.name}: {words}"[:500]
        )
        log.info("restore of %s refused: %s", registration.pk, words)
        return Outcome.REFUND
    _after_restore(registration)
    try:
        _books(registration, late, info, registry)
    except BillingError as exc:
        if exc.code == "vies_unavailable":
            return Outcome.WAITING  # a VAT check that did not answer is no refusal
        _undo(session_for, registry, name, registration, exc.code)
        return Outcome.REFUND
    except VatError as exc:
        _undo(session_for, registry, name, registration, str(exc)[:100])
        return Outcome.REFUND
    return Outcome.RESTORED
