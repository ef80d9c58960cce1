"""Erasure and export find everything the person is: questions asked from their address."""

from __future__ import annotations

import json

import pytest

from kluis.policy.enforce import Actor
from kluis.rights import services
from kluis.rights.export import build_export, export_json
from kluis.vault.errors import KeyShredded
from kluis.web import services as web_services
from kluis.web.models import Question

pytestmark = pytest.mark.django_db(databases="__all__")

MESSAGE = "Kunnen jullie mijn domein keesjansen.nl verhuizen?"


def _question(email: str) -> Question:
    return web_services.question_submit(
        name="Alice de Vries",
        email=email,
        message=MESSAGE,
        language="nl",
        client_address="192.0.2.10",
    )


def test_a_question_from_the_customers_address_is_exported_and_erased(personas):
    alice = personas.customer_a
    mine = _question("Alice@Example.nl")  # the index ignores case
    other = _question("iemand@example.org")
    export = build_export(subject=alice.pk, actor=Actor.subject(alice.pk), language="nl")
    text = export_json(export).decode()
    assert MESSAGE in text
    (message,) = [c for c in export["categories"] if c["label"] == "je vraag"]
    assert message["values"][0]["where"] == "vraag via het contactformulier"
    assert message["retention"] and json.dumps(message["retention"])

    services.erasure_request_from_portal(user=personas.alice)
    gone = Question.objects.get(pk=mine.pk)
    assert gone.email_index is None
    with pytest.raises(KeyShredded):
        gone.message.open()
    kept = Question.objects.get(pk=other.pk)
    assert kept.email_index is not None and kept.message.open() == MESSAGE
