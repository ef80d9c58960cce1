"""Login by email and password, with MFA, throttling, and audit without personal data."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from kluis.accounts import services, throttle
from kluis.accounts.http import DEVICE_COOKIE
from kluis.accounts.models import Throttle
from kluis.audit.models import AuditEntry
from kluis.testing import PASSWORD, make_staff, totp_device

pytestmark = pytest.mark.django_db(databases="__all__")
LOGIN = "/account/inloggen/"
WRONG = "Dit e-mailadres en wachtwoord passen niet bij een account."


def _login(client, email, password=PASSWORD, **extra):
    return client.post(LOGIN, {"email": email, "password": password}, **extra)


def _code(user) -> str:
    device = totp_device(user)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_a_customer_logs_in_with_email_and_password_and_lands_in_the_portal(client, personas):
    response = _login(client, "Alice@Example.nl ")
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
    assert client.session[SESSION_KEY] == str(personas.alice.pk)


def test_the_session_key_changes_at_login(client, personas):
    client.get(LOGIN)
    client.session["something"] = "x"
    session = client.session
    session.save()
    before = session.session_key
    _login(client, "alice@example.nl")
    assert client.session.session_key != before


def _comparable(response, email: str) -> str:
    text = response.content.decode().replace(email, "X")
    return "\n".join(line for line in text.splitlines() if "csrf" not in line)


def test_an_unknown_address_and_a_wrong_password_get_the_same_response(client, personas):
    unknown = _login(client, "nobody@example.nl", "whatever-password")
    wrong = _login(client, "alice@example.nl", "whatever-password")
    assert unknown.status_code == wrong.status_code == 200
    assert WRONG in unknown.content.decode()
    assert _comparable(unknown, "nobody@example.nl") == _comparable(wrong, "alice@example.nl")


def test_an_account_not_activated_or_switched_off_cannot_log_in(client, personas):
    personas.alice.is_active = False
    personas.alice.save()
    assert WRONG in _login(client, "alice@example.nl").content.decode()


def test_audit_records_logins_and_failures_without_email_or_address(client, personas):
    _login(client, "nobody@example.nl", "whatever-password")
    _login(client, "alice@example.nl", "whatever-password")
    _login(client, "alice@example.nl")
    actions = list(AuditEntry.objects.values_list("action", "payload"))
    kinds = [a for a, _ in actions]
    assert kinds.count("accounts.login_failed") == 2 and "accounts.login" in kinds
    for _, payload in actions:
        assert "example.nl" not in payload and "127.0.0.1" not in payload
    unknown = json.loads(actions[kinds.index("accounts.login_failed")][1])
    assert unknown["subject"] is None and unknown["data"] == {}


# --- MFA ----------------------------------------------------------------------------


def test_a_customer_with_an_app_must_give_a_code_after_the_password(client, personas):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=personas.alice, name="app", confirmed=True)
    response = _login(client, "alice@example.nl")
    assert response["Location"] == reverse("accounts:login-mfa")
    assert SESSION_KEY not in client.session
    assert "niet" in client.post(reverse("accounts:login-mfa"), {"code": "000000"}).content.decode()
    totp_device(personas.alice).throttle_reset()  # django-otp also slows a device down
    response = client.post(reverse("accounts:login-mfa"), {"code": _code(personas.alice)})
    assert response["Location"] == reverse("portal:home")
    assert client.session[SESSION_KEY] == str(personas.alice.pk)


def test_a_recovery_code_works_once(client, personas):
    staff = personas.staff["support"]
    device = StaticDevice.objects.create(user=staff, name="recovery", confirmed=True)
    StaticToken.objects.create(device=device, token="herstel1")
    _login(client, "support@winkeltjes.net")
    response = client.post(reverse("accounts:login-mfa"), {"code": "herstel1"})
    assert response["Location"] == reverse("backoffice:home")
    assert client.get(reverse("backoffice:home")).status_code == 200
    other = client.__class__()
    _login(other, "support@winkeltjes.net")
    assert other.post(reverse("accounts:login-mfa"), {"code": "herstel1"}).status_code == 200


def test_staff_without_an_app_must_set_one_up_before_the_back_office(client, personas):
    make_staff(roles=["support"], email="nieuw@winkeltjes.net", mfa=False)
    response = _login(client, "nieuw@winkeltjes.net")
    assert response["Location"] == reverse("backoffice:home")
    assert client.get(reverse("backoffice:home"))["Location"] == reverse("accounts:mfa-totp")
    assert client.get(reverse("accounts:mfa-totp")).status_code == 200


# --- throttling ---------------------------------------------------------------------


def _flood(client, email, times, address="203.0.113.9"):
    for _ in range(times):
        _login(client, email, "not-the-password", REMOTE_ADDR=address)


def test_five_wrong_passwords_block_the_account_for_the_cool_off(client, personas):
    _flood(client, "alice@example.nl", 5)
    response = _login(client, "alice@example.nl", REMOTE_ADDR="198.51.100.7")
    assert "Te veel pogingen" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_an_unknown_address_is_throttled_the_same_way(client, personas):
    _flood(client, "nobody@example.nl", 5)
    response = _login(client, "nobody@example.nl", "x", REMOTE_ADDR="198.51.100.7")
    assert "Te veel pogingen" in response.content.decode()


def test_the_block_ends_after_the_cool_off_however_long_the_flood(client, personas):
    _flood(client, "alice@example.nl", 12)  # attempts during the block are not counted
    Throttle.objects.update(blocked_until=timezone.now() - dt.timedelta(seconds=1))
    response = _login(client, "alice@example.nl", REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 302


def test_a_flood_does_not_lock_out_the_owners_own_browser(client, personas):
    owner = client.__class__()
    _login(owner, "alice@example.nl", REMOTE_ADDR="198.51.100.7")
    assert DEVICE_COOKIE in owner.cookies
    owner.post(reverse("accounts:logout"))
    _flood(client, "alice@example.nl", 8)
    assert "Te veel pogingen" in _login(client, "alice@example.nl").content.decode()
    response = _login(owner, "alice@example.nl", REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 302


def test_one_address_trying_many_accounts_is_blocked(client, personas):
    for n in range(throttle.LOGIN_ADDRESS.limit):
        _login(client, f"iemand{n}@example.nl", "x", REMOTE_ADDR="203.0.113.50")
    assert (
        "Te veel pogingen"
        in _login(client, "alice@example.nl", REMOTE_ADDR="203.0.113.50").content.decode()
    )


def test_throttle_keys_hold_no_email_or_address(client, personas):
    _flood(client, "alice@example.nl", 2)
    for key in Throttle.objects.values_list("key", flat=True):
        assert "alice" not in key and "203.0.113" not in key
        assert key.split(":")[1] != services.email_index("alice@example.nl")


def test_mfa_codes_are_throttled_per_account(client, personas):
    staff = personas.staff["orders"]
    _login(client, "orders@winkeltjes.net")
    for _ in range(throttle.MFA_ACCOUNT.limit):
        client.post(reverse("accounts:login-mfa"), {"code": "000000"})
    response = client.post(reverse("accounts:login-mfa"), {"code": _code(staff)})
    assert "Te veel pogingen" in response.content.decode()


def test_password_reset_requests_are_throttled_and_still_answer_the_same(client, personas):
    from django.core import mail

    from kluis.accounts.services import password_reset_requests_handle

    for _ in range(5):
        response = client.post(reverse("accounts:password-reset"), {"email": "alice@example.nl"})
        assert response["Location"] == reverse("accounts:password-reset-sent")
    password_reset_requests_handle()  # the worker's part
    assert len(mail.outbox) == throttle.RESET_ACCOUNT.limit


def test_behind_the_trusted_proxy_limits_and_audit_use_the_forwarded_client(
    client, personas, settings
):
    """nginx (127.0.0.1, trusted) forwards each client's address: one client's flood
    blocks that client only, and the audit names the client, not the proxy. Without
    a trusted proxy a client's own X-Forwarded-For changes nothing."""
    settings.KLUIS_TRUSTED_PROXIES = ["127.0.0.1/32"]
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    for n in range(throttle.LOGIN_ADDRESS.limit):
        _login(client, f"iemand{n}@example.nl", "x", HTTP_X_FORWARDED_FOR="203.0.113.50", **proxy)
    # A client putting another address in front of its own is still itself (right-most).
    spoofed = _login(
        client, "alice@example.nl", HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.50", **proxy
    )
    assert "Te veel pogingen" in spoofed.content.decode()
    other = client.__class__()
    response = _login(other, "alice@example.nl", HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    assert response.status_code == 302  # the proxy's address is not one shared bucket
    login = json.loads(AuditEntry.objects.filter(action="accounts.login").latest("seq").payload)
    assert login["data"]["client"] == throttle.client_ref("198.51.100.7")
    assert login["data"]["client"] != throttle.client_ref("127.0.0.1")

    settings.KLUIS_TRUSTED_PROXIES = []
    direct = client.__class__()
    response = _login(
        direct, "alice@example.nl", REMOTE_ADDR="192.0.2.77", HTTP_X_FORWARDED_FOR="198.51.100.7"
    )
    assert response.status_code == 302
    login = json.loads(AuditEntry.objects.filter(action="accounts.login").latest("seq").payload)
    assert login["data"]["client"] == throttle.client_ref("192.0.2.77")
