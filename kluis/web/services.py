"""Writes of the public site: questions and answers, and the policy change notice.

Services take clean input (the forms validated it) and write the audit entry and
the mail themselves, in one transaction. Audit data names questions and people by
id only; a client appears as an HMAC of its address.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from kluis.accounts import throttle, validators
from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_append
from kluis.mail.models import OutboxMessage
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.vault import keys
from kluis.vault.errors import KeyShredded
from kluis.web import emails
from kluis.web.models import Answer, Question

CONTACT_ADDRESS = throttle.Rule("contact-address", 5, dt.timedelta(hours=1), dt.timedelta(hours=1))
# The worker role that opens a question's address to queue the answer.
QUESTION_MAILER = Actor.system("web.questions")
POLICY_MAILER = Actor.system("web.policy_announce")


class QuestionError(Exception):
    """A rule of the contact form or the back office refused; the message says which."""


class Throttled(QuestionError):
    def __init__(self, seconds: int) -> None:
        super().__init__(f"too many questions from this address; wait {seconds} s")
        self.seconds = seconds


def _new_reference() -> str:
    while True:
        reference = f"V-{secrets.token_hex(4).upper()}"
        if not Question.objects.filter(reference=reference).exists():
            return reference


@transaction.atomic
def question_submit(
    *, name: str, email: str, message: str, language: str, client_address: str
) -> Question:
    """Store a question sealed and queue its receipt.

    The same happens for every address, a customer's or not: the form does not tell
    who is a customer, and nothing links the question to one. The fields pass the
    validators every form uses (ValidationError otherwise).
    """
    checked = validators.clean_person_fields({"name": name, "email": email, "message": message})
    name, email, message = checked["name"], checked["email"], checked["message"]
    keys = [throttle.key_for(CONTACT_ADDRESS, client_address)]
    seconds = throttle.blocked_seconds(keys)
    if seconds:
        raise Throttled(seconds)
    throttle.throttle_fail(keys=keys)
    question = Question(
        name=name,
        email=email,
        message=message,
        reference=_new_reference(),
        language=language,
    )
    question.save()
    audit_append(
        action="web.question.received",
        actor=f"client:{throttle.client_ref(client_address)}",
        subject=question.id,
        data={"question": str(question.id), "reference": question.reference},
    )
    emails.mail_question_received(question=question, recipient_email=email)
    return question


@transaction.atomic
def question_answer(*, question: Question, body: str, after: int, close: bool, by: User) -> Answer:
    """Keep the answer with the question and queue it as mail, in one transaction.

    `after` is the number of answers the staff member saw; if another answer came in
    since (a double click, a colleague), nothing is sent twice.
    """
    locked = Question.objects.select_for_update().get(pk=question.pk)
    if locked.closed_at is not None:
        raise QuestionError("this question is closed")
    count = Answer.objects.filter(question=locked).count()
    if count != after:
        raise QuestionError("the question was answered meanwhile")
    answer = Answer(question=locked, number=count + 1, body=body, answered_by=by)
    answer.save()
    sealed = locked.email
    if sealed is None:
        raise QuestionError("the question has no address")
    try:
        address = sealed.reveal(purpose=emails.ANSWER_PURPOSE, actor=QUESTION_MAILER)
    except KeyShredded:
        raise QuestionError("the question's data has been erased") from None
    emails.mail_question_answer(question=locked, answer=answer, recipient_email=address)
    audit_append(
        action="web.question.answered",
        actor=by.actor().ref,
        subject=locked.id,
        data={"question": str(locked.id), "answer": answer.number},
    )
    if close:
        _close(locked, by)
    question.closed_at = locked.closed_at
    return answer


@transaction.atomic
def question_close(*, question: Question, by: User) -> None:
    locked = Question.objects.select_for_update().get(pk=question.pk)
    if locked.closed_at is not None:
        return
    _close(locked, by)
    question.closed_at = locked.closed_at


def _close(question: Question, by: User) -> None:
    question.closed_at = timezone.now()
    question.closed_by = by
    question.save(update_fields=["closed_at", "closed_by"])
    audit_append(
        action="web.question.closed",
        actor=by.actor().ref,
        subject=question.id,
        data={"question": str(question.id)},
    )


# --- the policy change notice (R45) ---------------------------------------------------


@dataclass(frozen=True)
class Announcement:
    version: str
    queued: int
    already: int
    skipped: int
    joined_under: int = 0

    def __str__(self) -> str:
        return (
            f"policy {self.version}: {self.queued} queued, {self.already} already told, "
            f"{self.skipped} without a usable address, "
            f"{self.joined_under} joined under this version"
        )


def active_customers() -> list[Customer]:
    """Customers whose contract has not ended and who have an active login."""
    now = timezone.now()
    return list(
        Customer.objects.exclude(contract_ended_at__lte=now)
        .filter(users__is_active=True)
        .distinct()
        .order_by("number")
    )


def policy_announce(*, customers: list[Customer] | None = None) -> Announcement:
    """One mail per active customer about the policy in force; safe to run again.

    Each customer's mail is queued in a transaction of its own, so a run that stops
    half-way keeps what it queued, and the dedupe key makes a second run send none
    of those again.
    """
    policy = current_policy()
    version = policy.version
    # A customer who became one on or after the version's day was shown this version
    # when signing up; a mail saying it changed would not be true for them.
    in_force = timezone.make_aware(dt.datetime.combine(policy.date, dt.time.min))
    queued = already = skipped = joined_under = 0
    # One key cache for the run, as a request has; each reveal is audited as it happens,
    # so a run that dies half-way leaves every queued mail's reveal on record.
    with keys.key_scope():
        for customer in active_customers() if customers is None else customers:
            if customer.created_at >= in_force:
                joined_under += 1
            elif _policy_announce_one(customer, version):
                queued += 1
            elif _announced(customer, version):
                already += 1
            else:
                skipped += 1
    return Announcement(version, queued, already, skipped, joined_under)


def _announced(customer: Customer, version: str) -> bool:
    key = emails.policy_dedupe_key(version=version, customer_id=customer.id)
    return OutboxMessage.objects.filter(dedupe_key=key).exists()


@transaction.atomic
def _policy_announce_one(customer: Customer, version: str) -> bool:
    """Queue the notice for one customer; False if told before or without an address."""
    if _announced(customer, version):
        return False  # and the address stays sealed
    sealed = customer.email
    if sealed is None:
        return False
    try:
        address = sealed.reveal(purpose=emails.POLICY_PURPOSE, actor=POLICY_MAILER)
    except KeyShredded:
        return False
    emails.mail_policy_changed(
        customer_id=customer.id,
        recipient_email=address,
        language=customer.language,
        version=version,
    )
    return True
