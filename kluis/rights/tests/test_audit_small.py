"""Small faults an audit of erasure, retention and the police register found."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kluis.mail.models import OutboxMessage
from kluis.rights import sweep
from kluis.vault.models import DataKey
from kluis.web import services as web_services
from kluis.web.models import Question

pytestmark = pytest.mark.django_db(databases="__all__")


def _answered_question(staff, *, closed_days_ago: int) -> Question:
    question = web_services.question_submit(
        name="Alice de Vries",
        email="alice@example.nl",
        message="Kunnen jullie mijn domein verhuizen?",
        language="nl",
        client_address="192.0.2.10",
    )
    web_services.question_answer(
        question=question, body="Ja, dat kan.", after=0, close=True, by=staff
    )
    Question.objects.filter(pk=question.pk).update(
        closed_at=timezone.now() - dt.timedelta(days=closed_days_ago)
    )
    return question


def test_question_mails_seal_the_address_under_the_questions_own_class(personas):
    question = _answered_question(personas.staff["support"], closed_days_ago=0)
    mails = OutboxMessage.objects.filter(to_subject=question.pk)
    assert mails.count() == 2
    for mail in mails:
        assert mail.recipient is None and mail.recipient_enquirer is not None
    classes = set(
        DataKey.objects.filter(subject=question.pk).values_list("retention_class", flat=True)
    )
    assert classes == {"contact_request"}


def test_the_dry_run_counts_exactly_what_the_sweep_then_does(personas):
    for _ in range(2):
        _answered_question(personas.staff["support"], closed_days_ago=400)
    personas.customer_a.contract_ended_at = timezone.now() - dt.timedelta(days=800)
    personas.customer_a.save(update_fields=["contract_ended_at"])
    planned = sweep.retention_sweep_run(dry_run=True)
    done = sweep.retention_sweep_run()
    assert planned.per_class == done.per_class and planned.per_class["contact_request"] == 2
    assert (planned.rows_deleted, planned.rows_tombstoned) == (
        done.rows_deleted,
        done.rows_tombstoned,
    )
    assert done.rows_deleted > 0


def test_one_running_order_is_one_bestelling_in_the_held_answer(personas):
    from kluis.rights.erasure import erasure_blockers
    from kluis.shop.models import Order
    from kluis.shop.testing import make_order

    make_order(personas.customer_a, status=Order.Status.PAID)
    reasons = [b.reason_nl for b in erasure_blockers(personas.customer_a.pk)]
    assert "Er loopt nog 1 bestelling." in reasons
    english = [b.reason_en for b in erasure_blockers(personas.customer_a.pk)]
    assert "1 order is still running." in english
    make_order(personas.customer_a, status=Order.Status.PAID)
    assert "Er lopen nog 2 bestellingen." in [
        b.reason_nl for b in erasure_blockers(personas.customer_a.pk)
    ]
