"""Reminders, the statutory 14-day letter and the hand-over to the debt collector (R29).

The schedule
    An unpaid invoice gets reminder 1, 2, … on the days after its due date that
    KLUIS_REMINDER_DAYS lists ("7,21"), each giving REMINDER_TERM_DAYS to pay; a next
    stage waits until the term of the one before has ended, so a job that did not
    run for a while never sends two at once. After the last reminder's term:
    - a consumer (Customer.kind person) gets the statutory letter, and only when its
      term has ended does the invoice become eligible for collections;
    - an organisation becomes eligible for collections at once.
    A hand-over is proposed by one finance user and approved by another. Paying the
    invoice in full closes its reminders and cancels a proposed hand-over; a payment
    after an approved hand-over is marked for finance to tell the collector.
    A chargeback that opens a paid invoice again starts a new round of the schedule,
    from reminder 1, counted from the date its mail gave (`reminder_round`).

The law this follows (to be checked against the primary texts before relying on it)
    - Art. 6:96 lid 6 BW (Wet normering buitengerechtelijke incassokosten, in force
      1 July 2012): from a consumer, collection costs are due only after a written
      reminder sent once the debtor is in default, which offers a term of 14 days,
      counted from the day after receipt, to pay without those costs, and states the
      costs that become due if payment does not follow. The letter states a date:
      we count receipt on the day after sending (mail sent late in the day) and
      give 14 days from the day after that, so the date is never too early.
    - Algemene termijnenwet art. 1 and 3: a statutory term that ends on a Saturday,
      Sunday or public holiday runs on to the next day that is none of these. The
      holidays of art. 3: New Year's Day, Easter Monday, Ascension Day, Whit Monday,
      Christmas and Boxing Day, King's Day and 5 May; Good Friday is treated as one
      too (it only makes the term longer).
    - Besluit vergoeding voor buitengerechtelijke incassokosten, art. 2: 15 % of the
      first €2,500 of the principal (at least €40), 10 % of the next €2,500, 5 % of
      the next €5,000, 1 % of the next €190,000 and 0.5 % of the rest, at most
      €6,775. No VAT is added on top: the operator of kluis can deduct VAT.
      Between businesses the same amounts apply unless agreed otherwise, and the
      14-day letter is not required.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from itertools import takewhile

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_append
from kluis.audit.disclosures import disclosure_record
from kluis.billing import emails
from kluis.billing.bulk import among
from kluis.billing.models import Chargeback, CollectionHandover, Invoice, Reminder
from kluis.billing.services import BILLING, BillingError
from kluis.policy.cases import Case
from kluis.policy.enforce import Actor
from kluis.vault.errors import KeyShredded, RevealRefused
from kluis.vault.fields import SealedValue

logger = logging.getLogger(__name__)

PURPOSE = "collections"
RECIPIENT = "debt_collector"
# What each ordinary reminder gives the customer to pay, counted from the day it is sent.
REMINDER_TERM_DAYS = 7
STATUTORY_TERM_DAYS = 14
# The statutory term counts from the day after receipt; receipt is counted a day late.
STATUTORY_RECEIPT_DAYS = 1

# (band width in cents, rate in basis points) of the Besluit, art. 2; None: the rest.
COST_BANDS: tuple[tuple[int | None, int], ...] = (
    (250_000, 1500),
    (250_000, 1000),
    (500_000, 500),
    (19_000_000, 100),
    (None, 50),
)
COSTS_MINIMUM_CENTS = 4_000
COSTS_MAXIMUM_CENTS = 677_500


def collection_costs(principal_cents: int) -> int:
    """The buitengerechtelijke incassokosten over `principal_cents`, in cents."""
    if principal_cents <= 0:
        return 0
    rest = Decimal(principal_cents)
    costs = Decimal(0)
    for width, rate_bp in COST_BANDS:
        part = rest if width is None else min(rest, Decimal(width))
        costs += part * rate_bp / 10_000
        rest -= part
        if rest <= 0:
            break
    cents = int(costs.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return min(max(cents, COSTS_MINIMUM_CENTS), COSTS_MAXIMUM_CENTS)


# --- terms ---------------------------------------------------------------------------


def _easter(year: int) -> dt.date:
    """Easter Sunday of `year` (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return dt.date(year, month, day + 1)


@cache
def public_holidays(year: int) -> frozenset[dt.date]:
    easter = _easter(year)
    kings_day = dt.date(year, 4, 27)
    if kings_day.weekday() == 6:
        kings_day = dt.date(year, 4, 26)
    return frozenset(
        {
            dt.date(year, 1, 1),
            easter - dt.timedelta(days=2),
            easter + dt.timedelta(days=1),
            easter + dt.timedelta(days=39),
            easter + dt.timedelta(days=50),
            kings_day,
            dt.date(year, 5, 5),
            dt.date(year, 12, 25),
            dt.date(year, 12, 26),
        }
    )


def next_working_day(day: dt.date) -> dt.date:
    """`day`, or the first day after it that is no Saturday, Sunday or public holiday."""
    while day.weekday() >= 5 or day in public_holidays(day.year):
        day += dt.timedelta(days=1)
    return day


def statutory_pay_by(sent_on: dt.date) -> dt.date:
    """The last day to pay without costs that a statutory letter sent on `sent_on` states."""
    received = sent_on + dt.timedelta(days=STATUTORY_RECEIPT_DAYS)
    return next_working_day(received + dt.timedelta(days=STATUTORY_TERM_DAYS))


def reminder_stages() -> list[str]:
    return [f"reminder_{n}" for n in range(1, len(settings.KLUIS_REMINDER_DAYS) + 1)]


def stages_for(customer: Customer) -> list[str]:
    stages = reminder_stages()
    if customer.kind == Customer.Kind.PERSON:
        stages.append(Reminder.STATUTORY_LETTER)
    return stages


# --- where an invoice stands --------------------------------------------------------


def _in_dunning() -> QuerySet[Invoice]:
    """Invoices that reminders may concern: something left to pay after credit notes
    and payments (one credited in full has nothing left)."""
    return Invoice.objects.filter(
        kind=Invoice.Kind.INVOICE,
        credited_at__isnull=True,
        paid_cents__lt=F("total_cents") - F("credited_cents"),
    )


@dataclass(frozen=True)
class Standing:
    """Where one unpaid invoice is in the process on `today`."""

    invoice: Invoice
    reminders: list[Reminder]
    next_stage: str | None
    next_due: bool
    eligible: bool
    handover: CollectionHandover | None
    # The round the reminders belong to: 1, one more after each reopening.
    round: int = 1

    @property
    def last(self) -> Reminder | None:
        return self.reminders[-1] if self.reminders else None


def standing(
    invoice: Invoice,
    today: dt.date,
    *,
    reminders: list[Reminder] | None = None,
    handover: CollectionHandover | None = None,
) -> Standing:
    every = reminders if reminders is not None else list(invoice.reminders.all())
    this_round = reminder_round(every)
    sent = {r.stage: r for r in every if r.round == this_round}
    stages = stages_for(invoice.customer)
    # The stages sent in order; a stage the schedule no longer has is left out.
    done = list(takewhile(lambda stage: stage in sent, stages))
    last = sent[done[-1]] if done else None
    next_stage = stages[len(done)] if len(done) < len(stages) else None
    due = reopened_due_date(invoice)
    unpaid = not invoice.is_paid and today > due
    next_due = False
    if next_stage is not None and unpaid and handover is None:
        if next_stage == Reminder.STATUTORY_LETTER:
            next_due = last is not None and today > last.pay_by
        else:
            index = stages.index(next_stage)
            on_schedule = today >= due + dt.timedelta(days=settings.KLUIS_REMINDER_DAYS[index])
            next_due = on_schedule and (last is None or today > last.pay_by)
    # Collections only after every stage, and after the term of the last one has ended.
    eligible = (
        unpaid
        and handover is None
        and next_stage is None
        and last is not None
        and today > last.pay_by
    )
    return Standing(
        invoice, [sent[s] for s in done], next_stage, next_due, eligible, handover, this_round
    )


def reminder_round(reminders: Sequence[Reminder]) -> int:
    """The round an unpaid invoice's schedule is in, from the reminders it had.

    Paying an invoice in full closes its reminders, and only a chargeback makes a paid
    invoice unpaid again. So reminders still open are the round that runs; when every
    reminder is closed, the invoice was paid and opened again since: a new round starts
    at reminder 1, counted from the chargeback's date, and a customer who had reminders
    before paying gets the whole schedule again (the statutory letter of art. 6:96 BW
    only after that, with its 14 days)."""
    if not reminders:
        return 1
    last = max(r.round for r in reminders)
    if any(r.closed_at is None for r in reminders if r.round == last):
        return last
    return last + 1


def reopened_due_date(invoice: Invoice) -> dt.date:
    """The day the schedule counts from: the due date, or, when a chargeback reopened
    the invoice, the later day its mail asked the customer to pay by
    (kluis/billing/chargebacks.py), so no reminder overtakes that mail."""
    due = invoice.due_date
    for chargeback in invoice.chargebacks.all():
        if chargeback.status == Chargeback.Status.RECEIVED and chargeback.pay_by > due:
            due = chargeback.pay_by
    return due


def overdue_standings(today: dt.date) -> list[Standing]:
    """Every overdue unpaid invoice with its stage, for the back office and the job."""
    invoices = list(
        _in_dunning()
        .filter(due_date__lt=today)
        .select_related("customer")
        .prefetch_related("reminders", "chargebacks")
        .order_by("due_date", "number")
    )
    active = {
        h.invoice_id: h
        for h in CollectionHandover.objects.filter(
            invoice__in=invoices, status__in=CollectionHandover.ACTIVE
        )
    }
    return [
        standing(
            invoice,
            today,
            reminders=list(invoice.reminders.all()),
            handover=active.get(invoice.pk),
        )
        for invoice in invoices
    ]


# --- the daily job ------------------------------------------------------------------


@dataclass
class DunningResult:
    sent: dict[str, int] = field(default_factory=dict)
    no_email: int = 0
    # Not sent because the address could not be opened: the customer was erased (a
    # chargeback reopened a paid invoice after that) or the vault refused the reveal.
    # Nothing is recorded for those; the invoice stays on the overdue list for finance.
    held: int = 0

    def __str__(self) -> str:
        parts = [f"{count} {stage}" for stage, count in sorted(self.sent.items())]
        return (
            f"sent: {', '.join(parts) or 'nothing'}; {self.no_email} without an email "
            f"address; {self.held} held (address not to be opened)"
        )


def dunning_run(*, today: dt.date | None = None) -> DunningResult:
    """Send every reminder and statutory letter that is due; a second run sends nothing."""
    day = today or timezone.localdate()
    result = DunningResult()
    for state in overdue_standings(day):
        if not state.next_due or state.next_stage is None:
            continue
        if state.invoice.customer.email is None:
            result.no_email += 1
            continue
        try:
            sent = reminder_send(invoice=state.invoice, stage=state.next_stage, today=day)
        except (KeyShredded, RevealRefused):
            # The reminder rolled back with its transaction; one customer's address
            # never stops the run for the others.
            logger.warning("reminder of %s held: its address cannot be opened", state.invoice.pk)
            result.held += 1
            continue
        if sent is not None:
            result.sent[state.next_stage] = result.sent.get(state.next_stage, 0) + 1
    return result


def reminder_send(*, invoice: Invoice, stage: str, today: dt.date) -> Reminder | None:
    """Record and mail one stage; None when it was already sent or is no longer due."""
    try:
        with transaction.atomic():
            locked = (
                _in_dunning()
                .select_for_update(of=("self",))
                .select_related("customer")
                .filter(pk=invoice.pk)
            ).first()
            if locked is None:
                return None  # paid or credited meanwhile
            state = standing(locked, today, handover=_active_handover(locked))
            if state.next_stage != stage or not state.next_due:
                return None
            statutory = stage == Reminder.STATUTORY_LETTER
            reminder = Reminder.objects.create(
                invoice=locked,
                stage=stage,
                round=state.round,
                sent_on=today,
                pay_by=statutory_pay_by(today)
                if statutory
                else today + dt.timedelta(days=REMINDER_TERM_DAYS),
                open_cents=locked.open_cents,
                costs_cents=collection_costs(locked.open_cents) if statutory else 0,
            )
            audit_append(
                action="billing.reminder_sent",
                actor=BILLING.ref,
                subject=locked.customer_id,
                data={
                    "invoice": locked.number,
                    "stage": stage,
                    "round": state.round,
                    "open_cents": reminder.open_cents,
                    "costs_cents": reminder.costs_cents,
                    "pay_by": reminder.pay_by.isoformat(),
                },
            )
            emails.mail_reminder(reminder)
            return reminder
    except IntegrityError:
        return None  # another run recorded this stage first


def _active_handover(invoice: Invoice) -> CollectionHandover | None:
    return CollectionHandover.objects.filter(
        invoice=invoice, status__in=CollectionHandover.ACTIVE
    ).first()


# --- paid: out of the process at once ------------------------------------------------


def dunning_invoice_paid(invoice: Invoice) -> None:
    """Called in the payment's transaction when `invoice` has just been paid in full."""
    dunning_invoices_paid([invoice])


def dunning_invoices_paid(invoices: Sequence[Invoice]) -> None:
    """The same for many invoices at once (a batch of a statement import)."""
    now = timezone.now()
    by_pk = {invoice.pk: invoice for invoice in invoices}
    Reminder.objects.filter(among(Reminder, "invoice", by_pk), closed_at__isnull=True).update(
        closed_at=now
    )
    for handover in CollectionHandover.objects.select_for_update().filter(
        among(CollectionHandover, "invoice", by_pk),
        status__in=[CollectionHandover.Status.PROPOSED, CollectionHandover.Status.APPROVED],
    ):
        invoice = by_pk[handover.invoice_id]
        after = handover.status == CollectionHandover.Status.APPROVED
        handover.status = (
            CollectionHandover.Status.PAID_AFTER_HANDOVER
            if after
            else CollectionHandover.Status.CANCELLED
        )
        handover.paid_at = now
        # Told of an amendment before is not told of the payment.
        handover.collector_told_at = None
        handover.save(update_fields=["status", "paid_at", "collector_told_at"])
        audit_append(
            action="billing.handover_paid" if after else "billing.handover_cancelled",
            actor=BILLING.ref,
            subject=invoice.customer_id,
            data={"handover": handover.pk, "invoice": invoice.number},
        )


def dunning_invoice_credited(invoice: Invoice, by: User | None) -> None:
    """A credit note lowered what `invoice` asks (its row locked, in its transaction):
    an open hand-over follows.

    A hand-over claims what the customer owes. After a credit note they owe less, and
    a collector claiming the old amount, with collection costs worked out on it, would
    claim what is not owed. Refusing the credit note instead would hold back a
    correction the customer is entitled to (art. 35a Wet OB) for as long as the
    collection runs. So a proposed hand-over simply takes the new amount; an approved
    one was already sent: it takes the new amount and costs, is marked amended, and
    stays on finance's page until finance has told the collector. Its file, made when
    downloaded, shows the new amount; the hashes of the file as approved stay. With
    nothing left to claim a proposed hand-over lapses and an approved one is withdrawn,
    to be told likewise. (Settled by payments, dunning_invoices_paid ends it.)
    """
    now = timezone.now()
    left = max(invoice.open_cents, 0)
    actor = by.actor().ref if by is not None else BILLING.ref
    for handover in CollectionHandover.objects.select_for_update().filter(
        invoice=invoice,
        status__in=[CollectionHandover.Status.PROPOSED, CollectionHandover.Status.APPROVED],
    ):
        before = {"open_cents": handover.open_cents, "costs_cents": handover.costs_cents}
        approved = handover.status == CollectionHandover.Status.APPROVED
        fields = ["open_cents", "costs_cents"]
        handover.open_cents = left
        handover.costs_cents = collection_costs(left)
        if left == 0:
            handover.status = (
                CollectionHandover.Status.WITHDRAWN
                if approved
                else CollectionHandover.Status.CREDITED
            )
            fields.append("status")
        if approved:
            handover.amended_at = now
            handover.collector_told_at = None
            fields += ["amended_at", "collector_told_at"]
        handover.save(update_fields=fields)
        _handover_changed(
            "billing.handover_withdrawn" if left == 0 else "billing.handover_amended",
            actor,
            invoice,
            handover,
            before,
            approved=approved,
        )


def _handover_changed(
    action: str,
    actor: str,
    invoice: Invoice,
    handover: CollectionHandover,
    before: dict[str, int],
    **more: object,
) -> None:
    """Audit a hand-over whose amount changed: what it was and what it is now."""
    audit_append(
        action=action,
        actor=actor,
        subject=invoice.customer_id,
        data={
            "handover": handover.pk,
            "invoice": invoice.number,
            "before": before,
            "open_cents": handover.open_cents,
            "costs_cents": handover.costs_cents,
            **more,
        },
    )


def dunning_invoice_charged_back(invoice: Invoice) -> None:
    """A chargeback opened `invoice` again (its row locked, in the chargeback's
    transaction): a hand-over that ended because it was paid stands again.

    The collector was (or is about to be) told the invoice was paid, and the bank has
    since taken that money back: the claim is open again and the collector is the one
    holding it. Leaving the hand-over ended would say nothing to anyone, and sending
    the customer our own reminders while the collector has the claim would be two
    parties asking for one debt. So it is approved again with the amount now open and
    its costs, marked charged back, and stays on finance's page as "betaling
    teruggeboekt na overdracht" until finance records the collector was told (as for
    an amendment by a credit note). Reminders wait while it is with the collector
    (`standing`: an active hand-over sends none). A hand-over that lapsed before its
    approval involved no collector: the invoice's schedule simply runs again."""
    left = max(invoice.open_cents, 0)
    if left == 0:
        return
    now = timezone.now()
    for handover in CollectionHandover.objects.select_for_update().filter(
        invoice=invoice, status=CollectionHandover.Status.PAID_AFTER_HANDOVER
    ):
        before = {"open_cents": handover.open_cents, "costs_cents": handover.costs_cents}
        handover.status = CollectionHandover.Status.APPROVED
        handover.open_cents = left
        handover.costs_cents = collection_costs(left)
        handover.charged_back_at = now
        handover.collector_told_at = None
        handover.save(
            update_fields=[
                "status",
                "open_cents",
                "costs_cents",
                "charged_back_at",
                "collector_told_at",
            ]
        )
        _handover_changed("billing.handover_charged_back", BILLING.ref, invoice, handover, before)


def handover_to_tell(handover: CollectionHandover) -> bool:
    """Whether finance still has to tell the collector something about this hand-over:
    paid or withdrawn after it, amended by a credit note, or its payment charged back."""
    if handover.collector_told_at is not None:
        return False
    return handover.status in (
        CollectionHandover.Status.PAID_AFTER_HANDOVER,
        CollectionHandover.Status.WITHDRAWN,
    ) or (
        handover.status == CollectionHandover.Status.APPROVED
        and (handover.amended_at is not None or handover.charged_back_at is not None)
    )


# --- the hand-over ------------------------------------------------------------------


@transaction.atomic
def collections_propose(
    *, invoice: Invoice, by: User, today: dt.date | None = None
) -> CollectionHandover:
    """A finance user proposes to hand an eligible invoice to the debt collector."""
    locked = (
        Invoice.objects.select_for_update().select_related("customer").filter(pk=invoice.pk)
    ).first()
    if locked is None or locked.kind != Invoice.Kind.INVOICE:
        raise BillingError("not_an_invoice")
    if locked.is_paid:
        raise BillingError("paid")
    if locked.open_cents <= 0:
        raise BillingError("credited")
    if _active_handover(locked) is not None:
        raise BillingError("already_proposed")
    if not standing(locked, today or timezone.localdate()).eligible:
        raise BillingError("not_eligible")
    handover = CollectionHandover.objects.create(
        invoice=locked,
        proposed_by=by,
        open_cents=locked.open_cents,
        costs_cents=collection_costs(locked.open_cents),
    )
    audit_append(
        action="billing.handover_proposed",
        actor=by.actor().ref,
        subject=locked.customer_id,
        data={"handover": handover.pk, "invoice": locked.number},
    )
    return handover


@transaction.atomic
def collections_decide(
    *, handover: CollectionHandover, by: User, approve: bool, language: str = "nl"
) -> CollectionHandover:
    """A second finance user approves (the data goes to the collector) or rejects."""
    locked = CollectionHandover.objects.select_for_update().get(pk=handover.pk)
    if locked.status == CollectionHandover.Status.CREDITED:
        raise BillingError("credited")  # lapsed by a credit note: say why
    if locked.status != CollectionHandover.Status.PROPOSED:
        raise BillingError("not_proposed")
    if locked.proposed_by_id == by.pk:
        raise BillingError("four_eyes")
    invoice = Invoice.objects.select_related("customer").get(pk=locked.invoice_id)
    if invoice.is_paid:
        raise BillingError("paid")
    if invoice.open_cents <= 0:
        raise BillingError("credited")
    locked.decided_by = by
    locked.decided_at = timezone.now()
    if not approve:
        locked.status = CollectionHandover.Status.REJECTED
        locked.save(update_fields=["status", "decided_by", "decided_at"])
        audit_append(
            action="billing.handover_rejected",
            actor=by.actor().ref,
            subject=invoice.customer_id,
            data={"handover": locked.pk, "invoice": invoice.number},
        )
        return locked
    locked.status = CollectionHandover.Status.APPROVED
    locked.open_cents = invoice.open_cents
    locked.costs_cents = collection_costs(invoice.open_cents)
    locked.language = language
    locked.invoice = invoice
    actor = by.actor()
    row = handover_row(locked, actor)
    locked.csv_sha256 = hashlib.sha256(handover_csv(locked, actor, row=row)).hexdigest()
    from kluis.billing.dunning_pdf import handover_pdf

    locked.pdf_sha256 = hashlib.sha256(handover_pdf(locked, actor, row=row)).hexdigest()
    locked.save(
        update_fields=[
            "status",
            "decided_by",
            "decided_at",
            "open_cents",
            "costs_cents",
            "language",
            "csv_sha256",
            "pdf_sha256",
        ]
    )
    disclosure_record(
        subject=invoice.customer_id,
        recipient=RECIPIENT,
        purpose=PURPOSE,
        categories=row.categories(),
        actor=actor,
        reference=invoice.number,
    )
    audit_append(
        action="billing.handover_approved",
        actor=actor.ref,
        subject=invoice.customer_id,
        data={
            "handover": locked.pk,
            "invoice": invoice.number,
            "open_cents": locked.open_cents,
            "costs_cents": locked.costs_cents,
            "csv_sha256": locked.csv_sha256,
            "pdf_sha256": locked.pdf_sha256,
        },
    )
    return locked


@transaction.atomic
def collections_collector_told(*, handover: CollectionHandover, by: User) -> CollectionHandover:
    """Finance has told the collector that an invoice it holds has been paid."""
    locked = CollectionHandover.objects.select_for_update().get(pk=handover.pk)
    if not handover_to_tell(locked):
        raise BillingError("nothing_to_tell")
    locked.collector_told_at = timezone.now()
    locked.save(update_fields=["collector_told_at"])
    audit_append(
        action="billing.handover_collector_told",
        actor=by.actor().ref,
        data={"handover": locked.pk},
    )
    return locked


# --- what the collector gets: four fields and the invoice -----------------------------


@dataclass(frozen=True)
class HandoverRow:
    """Exactly what goes to the collector: name, address, phone, email and the invoice.

    An organisation's debt is handed over in the organisation's name: the invoice is
    addressed to it, and the person's name is its contact person.
    """

    name: str
    organisation: str
    street: str
    postcode: str
    city: str
    country: str
    phone: str
    email: str
    invoice_number: str
    invoice_date: dt.date
    due_date: dt.date
    open_cents: int
    costs_cents: int

    def categories(self) -> list[str]:
        present = {
            "user.name": bool(self.name),
            "user.contact.organization": bool(self.organisation),
            "user.contact.address": any((self.street, self.postcode, self.city)),
            "user.contact.phone_number": bool(self.phone),
            "user.contact.email": bool(self.email),
        }
        return [category for category, held in present.items() if held]


def _reveal(value: SealedValue | None, actor: Actor, case: Case) -> str:
    return value.reveal(purpose=PURPOSE, actor=actor, case=case) if value is not None else ""


def handover_row(handover: CollectionHandover, actor: Actor) -> HandoverRow:
    """The collector's row, revealed for collections with the hand-over as the case."""
    invoice = handover.invoice
    customer = invoice.customer
    case = Case("collection_handover", str(handover.pk))
    return HandoverRow(
        name=_reveal(customer.name, actor, case),
        organisation=(
            _reveal(customer.company_name, actor, case)
            if customer.kind == Customer.Kind.ORGANISATION
            else ""
        ),
        street=_reveal(customer.address_street, actor, case),
        postcode=_reveal(customer.address_postcode, actor, case),
        city=_reveal(customer.address_city, actor, case),
        country=customer.country,
        phone=_reveal(customer.phone, actor, case),
        email=_reveal(customer.email, actor, case),
        invoice_number=invoice.number,
        invoice_date=invoice.issue_date,
        due_date=invoice.due_date,
        open_cents=handover.open_cents,
        costs_cents=handover.costs_cents,
    )


def handover_columns() -> list[str]:
    return [
        _("naam"),
        _("organisatie"),
        _("straat en huisnummer"),
        _("postcode"),
        _("plaats"),
        _("land"),
        _("telefoonnummer"),
        _("e-mailadres"),
        _("factuurnummer"),
        _("factuurdatum"),
        _("vervaldatum"),
        _("openstaand bedrag"),
        _("incassokosten"),
    ]


# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def _amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def handover_csv(
    handover: CollectionHandover, actor: Actor, *, row: HandoverRow | None = None
) -> bytes:
    """The collector's CSV (UTF-8, comma-separated, ISO dates, amounts in euro)."""
    row = row or handover_row(handover, actor)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    with override(handover.language):
        writer.writerow([neutralise(c) for c in handover_columns()])
    writer.writerow(
        neutralise(cell)
        for cell in (
            row.name,
            row.organisation,
            row.street,
            row.postcode,
            row.city,
            row.country,
            row.phone,
            row.email,
            row.invoice_number,
            row.invoice_date.isoformat(),
            row.due_date.isoformat(),
            _amount(row.open_cents),
            _amount(row.costs_cents),
        )
    )
    return buffer.getvalue().encode()


def customers_in_arrears(today: dt.date) -> dict[uuid.UUID, str]:
    """Customers far behind on an invoice, for the desks that decide on suspending a
    site (nothing suspends by itself): "collector" when an invoice of theirs is with
    the debt collector (an approved hand-over), else "letter" when the term of a
    statutory letter of the running round has passed unpaid. Two queries."""
    found: dict[uuid.UUID, str] = {
        customer: "letter"
        for customer in Reminder.objects.filter(
            stage=Reminder.STATUTORY_LETTER,
            closed_at__isnull=True,
            pay_by__lt=today,
            invoice__in=_in_dunning(),
        ).values_list("invoice__customer_id", flat=True)
    }
    for customer in CollectionHandover.objects.filter(
        status=CollectionHandover.Status.APPROVED, invoice__in=_in_dunning()
    ).values_list("invoice__customer_id", flat=True):
        found[customer] = "collector"
    return found


def handovers_open() -> QuerySet[CollectionHandover]:
    """Hand-overs finance still has to act on: to approve, to send, or paid, amended or
    withdrawn to report."""
    return (
        CollectionHandover.objects.filter(
            Q(status__in=[CollectionHandover.Status.PROPOSED, CollectionHandover.Status.APPROVED])
            | Q(
                status__in=[
                    CollectionHandover.Status.PAID_AFTER_HANDOVER,
                    CollectionHandover.Status.WITHDRAWN,
                ],
                collector_told_at__isnull=True,
            )
        )
        .select_related("invoice", "invoice__customer")
        .order_by("created_at")
    )
