"""Every answer of a request arrives: the held answer of an erasure and its final one.

The final answer goes to the address the person had, after their account and keys
are gone; then that address is shredded too.
"""

from __future__ import annotations

import pytest

from kluis.mail.delivery import deliver_due
from kluis.mail.models import OutboxMessage
from kluis.mail.tests.conftest import smtp_server, smtp_settings  # noqa: F401 (fixtures)
from kluis.rights import emails, services
from kluis.rights.erasure import Blocker, register_erasure_blocker, unregister_erasure_blocker
from kluis.vault.errors import KeyShredded
from kluis.vault.models import DataKey

pytestmark = pytest.mark.django_db(databases="__all__")


def _open_invoice(subject):
    return [
        Blocker(
            "billing.open_invoice",
            "Er staat nog een factuur open.",
            "An invoice is still open.",
            "Zodra die is betaald of verrekend, wissen we je gegevens.",
            "Once it is paid or settled, we erase your data.",
        )
    ]


def test_the_held_and_the_final_answer_of_an_erasure_both_arrive(personas, smtp_settings):  # noqa: F811
    register_erasure_blocker(_open_invoice)
    try:
        request = services.erasure_request_from_portal(user=personas.alice)
    finally:
        unregister_erasure_blocker(_open_invoice)
    assert request.status == "waiting"
    # The invoice is settled; the privacy officer finishes the request.
    services.request_respond(request=request, by=personas.staff["privacy_officer"])
    request.refresh_from_db()
    assert request.status == "done"
    answers = list(OutboxMessage.objects.filter(template=emails.ANSWER).order_by("created_at"))
    assert [m.context.get("stage") for m in answers] == ["held", "final"]
    assert deliver_due(worker="test").sent == 2
    held, final = (m.message for m in smtp_settings.received)
    assert all(m["To"] == "alice@example.nl" for m in (held, final))
    held_text = held.get_body(("plain",)).get_content()
    final_text = final.get_body(("plain",)).get_content()
    assert "Er staat nog een factuur open." in held_text
    assert "We hebben je gegevens gewist" in final_text
    assert "factuur open" not in final_text
    # The address of the last mail was sealed under a key of its own, now shredded.
    last = OutboxMessage.objects.get(pk=answers[1].pk)
    assert last.status == "sent" and last.shred_after_send
    assert not DataKey.objects.filter(subject=last.to_subject, wrapped__isnull=False).exists()
    assert DataKey.objects.filter(subject=last.to_subject, wrapped__isnull=True).exists()


def test_the_last_address_cannot_be_opened_from_a_copy_taken_before_sending(
    personas,
    smtp_settings,  # noqa: F811
):
    request = services.erasure_request_from_portal(user=personas.alice)
    (mail,) = OutboxMessage.objects.filter(template=emails.ANSWER)
    assert mail.context["stage"] == "final" and mail.to_subject != request.pk
    copy = OutboxMessage.objects.get(pk=mail.pk)  # the row as a backup holds it
    assert deliver_due(worker="test").sent == 1
    with pytest.raises(KeyShredded):
        copy.sealed_recipient.open()
