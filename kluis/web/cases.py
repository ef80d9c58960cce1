"""The public site's cases: an open question, sent by the person (or from their address)."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from kluis.accounts.models import Customer
from kluis.policy.cases import case_kind
from kluis.web.models import Question


def _of(subject: uuid.UUID) -> Q:
    """A question is the person's when it is itself the subject (someone who only asked
    us something) or came from the address of the customer who is the subject."""
    index = Customer.objects.filter(pk=subject).values_list("email_index", flat=True).first()
    mine = Q(pk=subject)
    return mine | Q(email_index=index) if index else mine


def _open_questions(subject: uuid.UUID) -> list[tuple[str, str]]:
    questions = Question.objects.open().filter(_of(subject))
    return [(str(q.pk), _("vraag %(reference)s") % {"reference": q.reference}) for q in questions]


def _describe(case_id: str) -> str:
    try:
        reference = Question.objects.filter(pk=case_id).values_list("reference", flat=True).first()
    except ValidationError:
        reference = None
    return _("vraag %(reference)s") % {"reference": reference} if reference else _("vraag")


@case_kind("question", open_for=_open_questions, describe=_describe)
def _question_holds(case_id: str, subject: uuid.UUID) -> bool:
    try:
        return Question.objects.open().filter(_of(subject), pk=case_id).exists()
    except ValidationError:
        return False
