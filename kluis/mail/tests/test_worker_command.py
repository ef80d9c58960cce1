"""`manage.py mail_worker`: its options, and its crash hook kept to development."""

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from kluis.mail.models import OutboxMessage
from kluis.mail.tests.conftest import ADDRESS, queue_test_mail


@pytest.mark.django_db(databases="__all__")
def test_once_delivers_everything_due_through_the_configured_backend(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for n in range(5):
        queue_test_mail(dedupe_key=f"mail:test:{n}")
    call_command("mail_worker", "--once", "--batch", "2")
    assert sorted(m.to[0] for m in mail.outbox) == [ADDRESS] * 5
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}


def test_a_batch_below_one_is_refused():
    with pytest.raises(CommandError, match="--batch must be at least 1"):
        call_command("mail_worker", "--once", "--batch", "0")


def test_an_unknown_crash_point_is_refused(monkeypatch):
    monkeypatch.setenv("KLUIS_MAIL_CRASH_AFTER", "sometime")
    with pytest.raises(CommandError, match="use one of claimed, accepted"):
        call_command("mail_worker", "--once")


def test_the_crash_hook_does_not_work_in_production(monkeypatch, settings):
    settings.DEBUG = False
    monkeypatch.setenv("KLUIS_MAIL_CRASH_AFTER", "accepted")
    with pytest.raises(CommandError, match="only with KLUIS_DEBUG=1"):
        call_command("mail_worker", "--once")
