"""Reads of the public site's back-office pages."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Count, Sum
from django.utils import timezone, translation

from kluis.policy.cases import Case
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.vault.fields import SealedField, SealedValue
from kluis.vault.reveal import reveal_many
from kluis.web.emails import ANSWER_PURPOSE
from kluis.web.models import Answer, PageViewDay, Question, VisitorDay


def open_questions() -> list[Question]:
    return list(Question.objects.open().annotate(answer_count=Count("answers")))


def question_for_staff(question_id: uuid.UUID) -> Question | None:
    return Question.objects.filter(pk=question_id).first()


def question_answers(question: Question) -> list[Answer]:
    return list(question.answers.select_related("answered_by").order_by("number"))


@dataclass(frozen=True)
class MaskedValue:
    name: str
    label: str
    category_label: str
    held: bool
    plain: str | None


def question_values(question: Question, revealed: dict[str, str]) -> list[MaskedValue]:
    """The question's sealed values, masked unless revealed in this request."""
    policy = current_policy()
    language = translation.get_language() or "nl"
    result = []
    for name in ("name", "email", "message"):
        field = Question._meta.get_field(name)
        assert isinstance(field, SealedField)
        result.append(
            MaskedValue(
                name=name,
                label=str(field.verbose_name),
                category_label=policy.categories[field.category].label.get(language),
                held=question.__dict__.get(field.attname) is not None,
                plain=revealed.get(name),
            )
        )
    return result


def question_reveal(
    *, question: Question, field: str, answers: list[Answer], actor: Actor
) -> dict[str, str]:
    """One value for answering; the message comes with our earlier answers to it.

    The vault checks the purpose and the actor's role, audits, and may refuse.
    """
    value = getattr(question, field)
    revealed: dict[str, str] = {}
    # The question is the case: once it is closed, staff no longer see it.
    case = Case("question", str(question.pk))
    if isinstance(value, SealedValue):
        revealed[field] = value.reveal(purpose=ANSWER_PURPOSE, actor=actor, case=case)
    if field == "message" and answers:
        bodies = reveal_many(answers, ["body"], purpose=ANSWER_PURPOSE, actor=actor, case=case)
        for answer, values in zip(answers, bodies, strict=True):
            revealed[f"answer:{answer.number}"] = values["body"] or ""
    return revealed


@dataclass(frozen=True)
class Statistics:
    days: list[tuple[dt.date, int, int, int]]  # day, page views, visitors, repeat visitors
    paths: list[tuple[str, int]]
    referrers: list[tuple[str, int]]
    since: dt.date


def statistics_summary(*, days: int = 30, top: int = 20) -> Statistics:
    since = timezone.localdate() - dt.timedelta(days=days - 1)
    views = PageViewDay.objects.filter(day__gte=since)
    per_day = dict(views.values_list("day").annotate(total=Sum("views")).order_by())
    visitors = {
        v.day: (v.visitors, v.repeat_visitors) for v in VisitorDay.objects.filter(day__gte=since)
    }
    rows = [
        (day, per_day.get(day, 0), *visitors.get(day, (0, 0)))
        for day in sorted(set(per_day) | set(visitors), reverse=True)
    ]
    paths = list(
        views.values_list("path").annotate(total=Sum("views")).order_by("-total", "path")[:top]
    )
    referrers = list(
        views.exclude(referrer_host="")
        .values_list("referrer_host")
        .annotate(total=Sum("views"))
        .order_by("-total", "referrer_host")[:top]
    )
    return Statistics(rows, paths, referrers, since)
