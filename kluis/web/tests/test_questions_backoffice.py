"""Questions in the back office: masked, revealed for answering, answered by mail, closed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kluis.audit.models import AuditEntry
from kluis.mail.delivery import deliver_due
from kluis.mail.models import OutboxMessage
from kluis.testing import log_in
from kluis.web import services
from kluis.web.models import Answer, Question

pytestmark = pytest.mark.django_db(databases="__all__")

MESSAGE = "Kan ik {{7*7}} betalen?\n=1+1 <b>vet</b>"


@pytest.fixture
def question(personas):
    return services.question_submit(
        name="Piet Puk",
        email="piet@example.nl",
        message=MESSAGE,
        language="nl",
        client_address="192.0.2.1",
    )


@pytest.fixture
def support(client, personas):
    log_in(client, personas.staff["support"])
    return client


def _url(name, question):
    return reverse(f"web_backoffice:{name}", kwargs={"question_id": question.id})


def _answer(client, question, body="Ja, met iDEAL.", after=0, close=False):
    data = {"body": body, "after": str(after)}
    if close:
        data["close"] = "on"
    return client.post(_url("question-answer", question), data)


def test_the_list_shows_open_questions_without_personal_data(support, question):
    page = support.get(reverse("web_backoffice:questions")).content.decode()
    assert question.reference in page and _url("question", question) in page
    assert "Piet" not in page and "piet@example.nl" not in page and "betalen" not in page


def test_the_question_page_masks_every_value_until_revealed(support, question):
    page = support.get(_url("question", question)).content.decode()
    assert "Piet" not in page and "piet@" not in page and "betalen" not in page
    assert page.count("••••••••") == 3
    assert not AuditEntry.objects.filter(action__startswith="vault.reveal").exists()


def test_a_reveal_is_for_answering_and_on_record(support, question, personas):
    response = support.post(_url("question-reveal", question), {"field": "message"})
    page = response.content.decode()
    # Shown literally: not evaluated as a template, escaped as HTML.
    assert "Kan ik {{7*7}} betalen?" in page and "Kan ik 49" not in page
    assert "&lt;b&gt;vet&lt;/b&gt;" in page and "=1+1" in page
    assert "Piet" not in page  # only what was asked for
    staff_ref = f"user:{personas.staff['support'].pk}"
    entries = [e.payload for e in AuditEntry.objects.all()]
    assert any(
        staff_ref in p and "answer_questions" in p and str(question.id) in p for p in entries
    )
    assert not any("betalen" in p for p in entries)


def test_an_answer_is_kept_with_the_question_and_mailed_once(support, question, smtp_settings):
    response = _answer(support, question, body="Ja, {{ met }} iDEAL.\nGroet, Support", close=True)
    assert response.status_code == 302
    answer = Answer.objects.get(question=question)
    assert answer.number == 1 and answer.body.open() == "Ja, {{ met }} iDEAL.\nGroet, Support"
    assert answer.body.scope.retention_class == "contact_request"
    assert answer.body.subject == question.id
    question.refresh_from_db()
    assert question.closed_at is not None  # the trigger of contact_request
    mail = OutboxMessage.objects.get(template="web/email/question_answer")
    assert mail.dedupe_key == f"question:{question.id}:answer:1"

    deliver_due(worker="test")
    [answer_mail] = [r for r in smtp_settings.received if "Antwoord" in r.message["Subject"]]
    assert answer_mail.rcpt_tos == ["piet@example.nl"]
    assert "Hallo Piet Puk," in answer_mail.text
    assert "Ja, {{ met }} iDEAL." in answer_mail.text
    assert "Kan ik {{7*7}} betalen?" in answer_mail.text
    assert "&lt;b&gt;vet&lt;/b&gt;" in answer_mail.html and "<b>vet</b>" not in answer_mail.html


def test_a_second_click_on_the_same_answer_sends_nothing_more(support, question):
    assert _answer(support, question, after=0).status_code == 302
    second = _answer(support, question, after=0)
    assert second.status_code == 302
    assert Answer.objects.filter(question=question).count() == 1
    assert OutboxMessage.objects.filter(template="web/email/question_answer").count() == 1
    follow_up = _answer(support, question, body="Nog een aanvulling.", after=1)
    assert follow_up.status_code == 302
    keys = set(OutboxMessage.objects.values_list("dedupe_key", flat=True))
    assert f"question:{question.id}:answer:2" in keys


def test_an_empty_or_control_character_answer_is_a_form_error(support, question):
    assert _answer(support, question, body="").status_code == 400
    assert _answer(support, question, body="hallo\x00").status_code == 400
    assert not Answer.objects.exists()


def test_closing_sets_closed_at_and_takes_it_off_the_list(support, question):
    response = support.post(_url("question-close", question))
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.closed_at is not None and question.closed_by is not None
    listing = support.get(reverse("web_backoffice:questions")).content.decode()
    assert question.reference not in listing
    assert AuditEntry.objects.filter(action="web.question.closed").count() == 1
    # A closed question is not answered any more.
    _answer(support, question)
    assert not Answer.objects.exists()


def test_the_question_page_names_who_closed_and_who_answered(support, question, personas):
    personas.staff["support"].display_name = "Lotte Visser"
    personas.staff["support"].save(update_fields=["display_name"])
    _answer(support, question, close=True)
    page = support.get(_url("question", question)).content.decode()
    assert "door Lotte Visser (klantenservice)" in page
    assert "· Lotte Visser (klantenservice)" in page


def test_the_previous_answers_are_read_with_the_question(support, question):
    _answer(support, question, body="Eerste antwoord")
    page = support.get(_url("question", question)).content.decode()
    assert "Eerste antwoord" not in page
    page = support.post(_url("question-reveal", question), {"field": "message"}).content.decode()
    assert "Eerste antwoord" in page


def test_a_staff_member_without_the_support_role_is_refused_by_the_vault_too(personas, question):
    from kluis.vault.errors import RevealRefused

    with pytest.raises(RevealRefused):
        question.message.reveal(purpose="answer_questions", actor=personas.staff["orders"].actor())
    assert Question.objects.get().message.open() == MESSAGE


def test_closing_starts_the_retention_clock_the_sweep_reads(support, question):
    pytest.importorskip("kluis.rights.retention")
    from kluis.policy.schema import Trigger
    from kluis.rights.retention import trigger_moments

    assert question.id not in trigger_moments(Trigger.REQUEST_CLOSED, [question.id])
    support.post(_url("question-close", question))
    question.refresh_from_db()
    assert trigger_moments(Trigger.REQUEST_CLOSED, [question.id]) == {
        question.id: question.closed_at
    }
