"""The public contact form: stored sealed, a receipt by mail, bad input, throttling."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.urls import reverse

from kluis.audit.models import AuditEntry
from kluis.mail.delivery import deliver_due
from kluis.mail.models import OutboxMessage
from kluis.web.models import Question

pytestmark = pytest.mark.django_db(databases="__all__")

VALID = {"name": "Jan Jansen", "email": "jan@example.nl", "message": "Hoe verhuis ik mijn shop?"}


def _post(client, **changes):
    return client.post(reverse("web:contact"), {**VALID, **changes})


def test_a_question_is_stored_sealed_under_the_contact_retention_class(visitor):
    response = _post(visitor)
    assert response.status_code == 302 and response["Location"] == reverse("web:contact-sent")
    question = Question.objects.get()
    for name in ("name", "email", "message"):
        assert question.__dict__[name] is not None
        assert getattr(question, name).scope.retention_class == "contact_request"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Question._meta.db_table}")  # noqa: S608
        row = " ".join(str(v) for v in cursor.fetchone())
    assert "Jansen" not in row and "jan@example.nl" not in row and "verhuis" not in row
    entry = AuditEntry.objects.get(action="web.question.received")
    assert "Jansen" not in entry.payload and "jan@" not in entry.payload
    assert "198.51.100.23" not in entry.payload
    assert json.loads(entry.payload)["subject"] == str(question.id)


def test_the_sender_gets_a_receipt_that_repeats_nothing_they_typed(visitor, smtp_settings):
    _post(visitor, name="Koop Nu Goedkoop", message="Bezoek spam.example voor korting")
    question = Question.objects.get()
    queued = OutboxMessage.objects.get()
    assert queued.dedupe_key == f"question:{question.id}:received"
    assert deliver_due(worker="test").sent == 1
    [received] = smtp_settings.received
    assert received.rcpt_tos == ["jan@example.nl"]
    assert question.reference in received.message["Subject"]
    for typed in ("Koop Nu", "spam.example", "korting"):
        assert typed not in received.text and typed not in received.html


def test_the_form_answers_a_customer_and_a_stranger_alike(visitor, personas):
    as_customer = _post(visitor, email="alice@example.nl")
    as_stranger = _post(visitor, email="niemand@example.nl")
    assert as_customer.status_code == as_stranger.status_code == 302
    assert as_customer["Location"] == as_stranger["Location"]
    assert set(as_customer.cookies) == set(as_stranger.cookies)
    assert OutboxMessage.objects.filter(template="web/email/question_received").count() == 2
    # Nothing links either question to a customer: each is a data subject of its own.
    subjects = {q.vault_subject() for q in Question.objects.all()}
    assert personas.customer_a.id not in subjects and len(subjects) == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "{{7*7}}"),
        ("name", "Jan {% debug %}"),
        ("name", '=HYPERLINK("http://x.example")'),
        ("name", "@SUM(A1)"),
        ("name", "Jan\x00Jansen"),
        ("name", "Jan\u202eJansen"),
        ("name", "J" * 201),
        ("email", "geen-adres"),
        ("email", "jan@example.nl\nBcc: x@example.nl"),
        ("email", "j" * 250 + "@example.nl"),
        ("message", ""),
        ("message", "hallo\x00"),
        ("message", "hallo\x1b[31m"),
        ("message", "x" * 5001),
    ],
)
def test_bad_input_gets_a_form_error_and_stores_nothing(visitor, field, value):
    response = _post(visitor, **{field: value})
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert 'role="alert"' in response.content.decode()
    assert not Question.objects.exists() and not OutboxMessage.objects.exists()


def test_template_syntax_and_formulas_in_a_message_are_kept_as_typed(visitor):
    message = "{{7*7}} {% now 'Y' %}\n=SUM(A1:A9)\n+31 20 123 4567\n<script>x</script>"
    assert _post(visitor, message=message).status_code == 302
    question = Question.objects.get()
    assert question.message.open() == message


def test_a_flood_from_one_address_is_throttled_and_others_are_not(visitor, client):
    for _ in range(5):
        assert _post(visitor).status_code == 302
    blocked = _post(visitor)
    assert blocked.status_code == 429
    assert "Probeer het over een uur opnieuw" in blocked.content.decode()
    assert Question.objects.count() == 5
    assert _post(client, email="ander@example.nl").status_code == 302  # another address


def test_the_form_page_links_the_privacy_statement_and_says_how_long_we_keep_it(visitor):
    page = visitor.get(reverse("web:contact")).content.decode()
    assert reverse("policy:statement") in page and "6 maanden" in page


def test_the_form_speaks_english_to_an_english_visitor(visitor):
    visitor.cookies["django_language"] = "en"
    page = visitor.get(reverse("web:contact")).content.decode()
    assert "Ask your question" in page and "6 months" in page
    sent = _post(visitor, email="")
    assert "This field is required." in sent.content.decode()


def test_an_english_sender_gets_an_english_receipt(visitor, smtp_settings):
    visitor.cookies["django_language"] = "en"
    _post(visitor)
    deliver_due(worker="test")
    [received] = smtp_settings.received
    assert received.message["Subject"].startswith("We have received your question (V-")
    assert "Thank you for your question." in received.text
