"""Two-step verification: TOTP with a QR code, recovery codes, and who may turn it off."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from kluis.accounts import services
from kluis.audit.models import AuditEntry
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_setting_up_an_app_shows_an_inline_svg_qr_code_and_needs_a_first_code(client, personas):
    log_in(client, personas.alice)
    page = client.get(reverse("accounts:mfa-totp")).content.decode()
    assert "<svg" in page and "<path" in page
    assert "style=" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "<script" not in page
    device = TOTPDevice.objects.get(user=personas.alice, confirmed=False)
    assert client.post(reverse("accounts:mfa-totp"), {"code": "123456"}).status_code == 200
    assert not services.mfa_enabled(personas.alice)
    device.throttle_reset()
    response = client.post(reverse("accounts:mfa-totp"), {"code": _code(device)})
    assert services.mfa_enabled(personas.alice)
    codes = response.context["codes"]
    assert (
        len(codes) == 10 and StaticToken.objects.filter(device__user=personas.alice).count() == 10
    )
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"accounts.mfa_totp_confirmed", "accounts.mfa_recovery_codes_generated"} <= actions


def test_the_qr_code_names_the_customer_number_not_the_email(client, personas):
    log_in(client, personas.alice)
    page = client.get(reverse("accounts:mfa-totp")).content.decode()
    assert "alice" not in page.split("<svg", 1)[1]


def test_a_customer_may_turn_two_step_verification_off_but_staff_may_not(client, personas):
    device = TOTPDevice.objects.create(user=personas.alice, name="app", confirmed=True)
    log_in(client, personas.alice)
    assert client.post(reverse("accounts:mfa-disable")).status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    staff = client.__class__()
    log_in(staff, personas.staff["orders"])
    assert staff.post(reverse("accounts:mfa-disable")).status_code == 403
    assert services.mfa_enabled(personas.staff["orders"])


def test_replacing_an_app_needs_a_session_verified_with_the_old_one(client, personas):
    TOTPDevice.objects.create(user=personas.alice, name="app", confirmed=True)
    log_in(client, personas.alice, verified=False)
    assert client.get(reverse("accounts:mfa-totp")).status_code == 403


def test_new_staff_set_up_their_app_and_then_reach_the_back_office(client, db):
    newcomer = make_staff(roles=["orders"], mfa=False)
    log_in(client, newcomer)
    assert client.get(reverse("backoffice:home"))["Location"] == reverse("accounts:mfa-totp")
    client.get(reverse("accounts:mfa-totp"))
    device = TOTPDevice.objects.get(user=newcomer)
    client.post(reverse("accounts:mfa-totp"), {"code": _code(device)})
    assert client.get(reverse("backoffice:home")).status_code == 200
