"""The public site in the back office: questions (support) and statistics (admin)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis.accounts.decorators import staff_required
from kluis.accounts.http import current_user
from kluis.vault.errors import KeyShredded, RevealRefused
from kluis.web import forms, selectors, services
from kluis.web.models import Question

QUESTION_ROLES = ("support",)
STATISTICS_ROLES = ("admin",)


def _question(question_id: uuid.UUID) -> Question:
    question = selectors.question_for_staff(question_id)
    if question is None:
        raise Http404
    return question


def _question_page(
    request: HttpRequest,
    question: Question,
    *,
    reveal_form: forms.QuestionRevealForm | None = None,
    answer_form: forms.AnswerForm | None = None,
    revealed: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    revealed = revealed or {}
    answers = selectors.question_answers(question)
    context = {
        "question": question,
        "values": selectors.question_values(question, revealed),
        "answers": [(a, revealed.get(f"answer:{a.number}")) for a in answers],
        "reveal_form": reveal_form or forms.QuestionRevealForm(),
        "answer_form": answer_form
        or forms.AnswerForm(initial={"after": len(answers), "close": True}),
    }
    return render(request, "web/backoffice/question.html", context, status=status)


@never_cache
@staff_required(*QUESTION_ROLES)
def questions(request: HttpRequest) -> HttpResponse:
    return render(
        request, "web/backoffice/questions.html", {"questions": selectors.open_questions()}
    )


@never_cache
@staff_required(*QUESTION_ROLES)
def question(request: HttpRequest, question_id: uuid.UUID) -> HttpResponse:
    return _question_page(request, _question(question_id))


@never_cache
@staff_required(*QUESTION_ROLES)
@require_POST
def question_reveal(request: HttpRequest, question_id: uuid.UUID) -> HttpResponse:
    question = _question(question_id)
    form = forms.QuestionRevealForm(request.POST)
    revealed: dict[str, str] = {}
    if form.is_valid():
        try:
            revealed = selectors.question_reveal(
                question=question,
                field=form.cleaned_data["field"],
                answers=selectors.question_answers(question),
                actor=current_user(request).actor(),
            )
        except RevealRefused as refusal:
            form.add_error(None, _("Niet toegestaan: %(reason)s") % {"reason": refusal})
        except KeyShredded:
            form.add_error(None, _("Deze vraag is gewist."))
    return _question_page(request, question, reveal_form=form, revealed=revealed)


@never_cache
@staff_required(*QUESTION_ROLES)
@require_POST
def question_answer(request: HttpRequest, question_id: uuid.UUID) -> HttpResponse:
    question = _question(question_id)
    form = forms.AnswerForm(request.POST)
    if form.is_valid():
        try:
            services.question_answer(
                question=question,
                body=form.cleaned_data["body"],
                after=form.cleaned_data["after"],
                close=form.cleaned_data["close"],
                by=current_user(request),
            )
        except services.QuestionError:
            messages.error(
                request,
                _(
                    "Niet verstuurd: de vraag is intussen beantwoord of gesloten. "
                    "Kijk eerst wat er al is gestuurd."
                ),
            )
        else:
            messages.success(request, _("Het antwoord is opgeslagen en wordt gemaild."))
        return redirect("web_backoffice:question", question_id=question.id)
    return _question_page(request, question, answer_form=form, status=400)


@staff_required(*QUESTION_ROLES)
@require_POST
def question_close(request: HttpRequest, question_id: uuid.UUID) -> HttpResponse:
    question = _question(question_id)
    services.question_close(question=question, by=current_user(request))
    messages.success(request, _("De vraag is gesloten."))
    return redirect("web_backoffice:questions")


@never_cache
@staff_required(*STATISTICS_ROLES)
def statistics(request: HttpRequest) -> HttpResponse:
    return render(
        request, "web/backoffice/statistics.html", {"stats": selectors.statistics_summary()}
    )
