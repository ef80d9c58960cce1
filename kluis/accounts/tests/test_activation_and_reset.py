"""R22, R23: activation and reset links, staff-sent resets, and email change."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import override_settings
from django.urls import reverse

from kluis.accounts.models import Customer, EmailChange, PasswordResetRequest, User
from kluis.accounts.services import password_reset_requests_handle
from kluis.audit.models import AuditEntry
from kluis.testing import PASSWORD, log_in, make_customer
from kluis.vault.models import DataKey

pytestmark = pytest.mark.django_db(databases="__all__")
NEW_PASSWORD = "een-nieuw-eigen-wachtwoord"


def _path(message) -> str:
    match = re.search(r"http://127\.0\.0\.1:8000(/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def _choose(client, path, password=NEW_PASSWORD):
    return client.post(path, {"new_password1": password, "new_password2": password})


def _signup(client, **fields):
    data = {"kind": "person", "name": "Carla Smit", "email": "carla@example.nl", **fields}
    return client.post(reverse("accounts:signup"), data)


def test_sign_up_mails_a_one_time_activation_link_and_the_customer_picks_a_password(client, db):
    assert _signup(client)["Location"] == reverse("accounts:signup-done")
    user = User.objects.get_by_email("carla@example.nl")
    assert user is not None and not user.has_usable_password()
    [message] = mail.outbox
    assert message.to == ["carla@example.nl"] and "Activeer" in message.subject
    assert isinstance(message, EmailMultiAlternatives)
    assert "Carla Smit" in str(message.alternatives[0][0])
    path = _path(message)
    assert _choose(client, path)["Location"] == reverse("accounts:login")
    user = User.objects.get(pk=user.pk)
    assert user.check_password(NEW_PASSWORD)
    assert client.get(path).status_code == 400  # single use


def test_an_english_customer_gets_the_email_in_english(client, db):
    client.post(reverse("set_language"), {"language": "en"})
    _signup(client)
    assert mail.outbox[0].subject == "Activate your winkeltjes.net account"
    assert Customer.objects.get().language == "en"


def test_sign_up_with_a_taken_address_looks_the_same_and_tells_the_owner(client, personas):
    response = _signup(client, email="ALICE@example.nl")
    assert response["Location"] == reverse("accounts:signup-done")
    assert Customer.objects.count() == 2
    [message] = mail.outbox
    assert message.to == ["alice@example.nl"] and "al een account" in message.subject


def test_a_reset_link_goes_only_to_the_stored_address_and_works_once(client, personas):
    # The typed address differs from the stored one; the mail goes to the stored one.
    client.post(reverse("accounts:password-reset"), {"email": " ALICE@Example.NL"})
    password_reset_requests_handle()  # the worker's part
    [message] = mail.outbox
    assert message.to == ["alice@example.nl"]
    path = _path(message)
    assert _choose(client, path)["Location"] == reverse("accounts:login")
    assert client.get(path).status_code == 400
    personas.alice = User.objects.get(pk=personas.alice.pk)
    assert personas.alice.check_password(NEW_PASSWORD)


def test_an_unknown_address_gets_the_same_page_and_a_mail_that_there_is_no_account(
    client, personas
):
    response = client.post(reverse("accounts:password-reset"), {"email": "nobody@example.nl"})
    password_reset_requests_handle()  # the worker's part
    assert response["Location"] == reverse("accounts:password-reset-sent")
    [message] = mail.outbox
    assert message.to == ["nobody@example.nl"] and "geen account" in message.body
    assert "/account/aanmelden/" in message.body and "wachtwoord-herstellen" not in message.body
    entry = AuditEntry.objects.get(action="accounts.password_reset_requested")
    assert entry.subject is not None
    # The entry's subject is the request itself, no customer; the typed address is in
    # no entry, and the request is gone once handled.
    assert not Customer.objects.filter(pk=entry.subject).exists()
    assert "nobody" not in entry.payload
    handled = AuditEntry.objects.get(action="accounts.password_reset_handled")
    assert handled.subject == entry.subject and "nobody" not in handled.payload
    assert not PasswordResetRequest.objects.exists()
    # What was typed is gone with its key.
    assert DataKey.objects.get(subject=entry.subject).is_shredded


def test_a_reset_link_expires_within_an_hour(client, personas, settings):
    assert settings.PASSWORD_RESET_TIMEOUT <= 3600
    client.post(reverse("accounts:password-reset"), {"email": "alice@example.nl"})
    password_reset_requests_handle()  # the worker's part
    path = _path(mail.outbox[0])
    with override_settings(PASSWORD_RESET_TIMEOUT=-1):
        assert client.get(path).status_code == 400


def test_an_account_not_activated_gets_a_new_activation_link_instead(client, db):
    make_customer(name="Dirk", email="dirk@example.nl", password=False)
    client.post(reverse("accounts:password-reset"), {"email": "dirk@example.nl"})
    password_reset_requests_handle()  # the worker's part
    assert "/account/activeren/" in mail.outbox[0].body


def test_support_sends_a_reset_email_but_never_sees_or_sets_the_password(client, personas):
    log_in(client, personas.staff["support"])
    url = reverse(
        "backoffice:customer-password-reset", kwargs={"customer_id": personas.customer_a.id}
    )
    response = client.post(url, {"user": str(personas.alice.pk)}, follow=True)
    [message] = mail.outbox
    assert message.to == ["alice@example.nl"]
    assert "wachtwoord-herstellen" not in response.content.decode()
    personas.alice = User.objects.get(pk=personas.alice.pk)
    assert personas.alice.check_password(PASSWORD)
    entry = AuditEntry.objects.get(action="accounts.password_reset_sent")
    assert entry.actor == f"user:{personas.staff['support'].pk}"


def test_support_cannot_send_a_reset_for_an_account_of_another_customer(client, personas):
    log_in(client, personas.staff["support"])
    url = reverse(
        "backoffice:customer-password-reset", kwargs={"customer_id": personas.customer_a.id}
    )
    assert client.post(url, {"user": str(personas.bob.pk)}).status_code == 404
    assert mail.outbox == []


def test_an_email_change_is_confirmed_at_the_new_address_and_told_to_the_old(client, personas):
    log_in(client, personas.alice)
    client.post(
        reverse("accounts:email-change"),
        {"new_email": "alice.nieuw@example.nl", "password": PASSWORD},
    )
    confirm, notice = mail.outbox
    assert confirm.to == ["alice.nieuw@example.nl"] and notice.to == ["alice@example.nl"]
    assert User.objects.get_by_email("alice@example.nl") == personas.alice  # not yet
    path = _path(confirm)
    assert client.get(path).status_code == 200  # GET shows a button; mail scanners do nothing
    assert User.objects.get_by_email("alice.nieuw@example.nl") is None
    client.post(path)
    assert User.objects.get_by_email("alice.nieuw@example.nl") == personas.alice
    customer = Customer.objects.get(pk=personas.customer_a.pk)
    assert customer.email_index == User.objects.get(pk=personas.alice.pk).email_index
    assert mail.outbox[-1].to == ["alice@example.nl"]
    assert not EmailChange.objects.exists()
    assert client.post(path).status_code == 400


def test_an_email_change_needs_the_password_and_a_free_address(client, personas):
    log_in(client, personas.alice)
    response = client.post(
        reverse("accounts:email-change"), {"new_email": "x@example.nl", "password": "fout"}
    )
    assert "Dit wachtwoord klopt niet." in response.content.decode()
    client.post(
        reverse("accounts:email-change"), {"new_email": "bob@example.nl", "password": PASSWORD}
    )
    response = client.post(_path(mail.outbox[0]))
    assert response.status_code == 409
    assert User.objects.get_by_email("bob@example.nl") == personas.bob


def test_the_page_only_queues_the_reset_and_the_worker_pass_mails_it(client, personas):
    from kluis.jobs.registry import queues_run

    client.post(reverse("accounts:password-reset"), {"email": "alice@example.nl"})
    assert mail.outbox == [] and PasswordResetRequest.objects.count() == 1
    assert queues_run() == 1
    [message] = mail.outbox
    assert message.to == ["alice@example.nl"] and "/wachtwoord-herstellen/" in message.body
    assert not PasswordResetRequest.objects.exists()


def test_a_reset_request_no_worker_took_within_an_hour_is_dropped_unsent(client, personas):
    import datetime as dt

    from django.utils import timezone

    client.post(reverse("accounts:password-reset"), {"email": "alice@example.nl"})
    PasswordResetRequest.objects.update(created_at=timezone.now() - dt.timedelta(hours=2))
    assert password_reset_requests_handle() == 1
    assert mail.outbox == [] and not PasswordResetRequest.objects.exists()
    entry = AuditEntry.objects.get(action="accounts.password_reset_handled")
    assert '"sent":false' in entry.payload.replace(" ", "")
