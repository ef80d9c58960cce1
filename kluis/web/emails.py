"""The mails of the public site, through the outbox: one kind and one function each.

The receipt for a question quotes nothing the sender typed: the form takes any
address, and a receipt that repeated a name or message would let anyone send our
mail with their words to a stranger. The answer does quote the question, since
staff read it before answering.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from kluis.mail.kinds import mail_kind
from kluis.mail.models import OutboxMessage
from kluis.mail.services import mail_queue
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy, policy_version
from kluis.web.models import Answer, Question

ANSWER_PURPOSE = "answer_questions"
POLICY_PURPOSE = "policy_changes"
QUESTION_RECEIVED = "web/email/question_received"
QUESTION_ANSWER = "web/email/question_answer"
POLICY_CHANGED = "web/email/policy_changed"


@mail_kind(
    template=QUESTION_RECEIVED,
    purpose=ANSWER_PURPOSE,
    references={"question_id"},
    retention="contact_request",
)
def _question_received(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    question = Question.objects.get(pk=context["question_id"])
    return {"reference": question.reference}


@mail_kind(
    template=QUESTION_ANSWER,
    purpose=ANSWER_PURPOSE,
    references={"question_id", "answer"},
    retention="contact_request",
)
def _question_answer(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    answer = Answer.objects.select_related("question").get(
        question_id=context["question_id"], number=context["answer"]
    )
    question = answer.question
    return {
        "reference": question.reference,
        "name": question.name.reveal(purpose=ANSWER_PURPOSE, actor=actor),
        "question": question.message.reveal(purpose=ANSWER_PURPOSE, actor=actor),
        "answer": answer.body.reveal(purpose=ANSWER_PURPOSE, actor=actor),
    }


@mail_kind(template=POLICY_CHANGED, purpose=POLICY_PURPOSE, references={"version", "language"})
def _policy_changed(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    policy = policy_version(str(context["version"])) or current_policy()
    language = str(context.get("language") or "nl")
    return {
        "version": policy.version,
        "date": policy.date,
        "changes": policy.changes.get(language),
    }


def mail_question_received(*, question: Question, recipient_email: str) -> OutboxMessage:
    return mail_queue(
        template=QUESTION_RECEIVED,
        to_subject=question.id,
        recipient_email=recipient_email,
        language=question.language,
        context={"question_id": str(question.id)},
        dedupe_key=f"question:{question.id}:received",
    )


def mail_question_answer(
    *, question: Question, answer: Answer, recipient_email: str
) -> OutboxMessage:
    return mail_queue(
        template=QUESTION_ANSWER,
        to_subject=question.id,
        recipient_email=recipient_email,
        language=question.language,
        context={"question_id": str(question.id), "answer": answer.number},
        dedupe_key=f"question:{question.id}:answer:{answer.number}",
    )


def policy_dedupe_key(*, version: str, customer_id: uuid.UUID) -> str:
    return f"policy:{version}:{customer_id}"


def mail_policy_changed(
    *, customer_id: uuid.UUID, recipient_email: str, language: str, version: str
) -> OutboxMessage:
    return mail_queue(
        template=POLICY_CHANGED,
        to_subject=customer_id,
        recipient_email=recipient_email,
        language=language,
        context={"version": version, "language": language},
        dedupe_key=policy_dedupe_key(version=version, customer_id=customer_id),
    )
