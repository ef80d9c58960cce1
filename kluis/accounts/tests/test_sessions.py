"""Sessions end when they should; security headers; check --deploy in production."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from kluis.accounts import services
from kluis.accounts.http import LAST_SEEN
from kluis.policy.filled import policy_dir_filled
from kluis.testing import PASSWORD, log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_password_change_ends_every_other_session(client, personas):
    other = client.__class__()
    log_in(other, personas.alice)
    log_in(client, personas.alice)
    response = client.post(
        reverse("accounts:password-change"),
        {
            "old_password": PASSWORD,
            "new_password1": "nieuw-en-lang-genoeg",
            "new_password2": "nieuw-en-lang-genoeg",
        },
    )
    assert response["Location"] == reverse("accounts:settings")
    assert client.get(reverse("portal:home")).status_code == 200  # this one stays
    assert other.get(reverse("portal:home")).status_code == 302  # the other one ended


def test_a_reset_ends_every_session(client, personas):
    log_in(client, personas.alice)
    services.user_set_password(user=personas.alice, password="nieuw-en-lang-genoeg", via="reset")
    assert client.get(reverse("portal:home")).status_code == 302


def test_switching_an_account_off_ends_its_sessions(client, personas):
    log_in(client, personas.staff["orders"])
    admin = client.__class__()
    log_in(admin, personas.staff["admin"])
    url = reverse("backoffice:staff-deactivate", kwargs={"user_id": personas.staff["orders"].pk})
    admin.post(url)
    response = client.get(reverse("backoffice:home"))
    assert response["Location"].startswith(reverse("accounts:login"))


def test_staff_sessions_end_after_thirty_idle_minutes(client, personas):
    assert settings.KLUIS_STAFF_IDLE_SECONDS == 30 * 60
    log_in(client, personas.staff["orders"])
    assert client.get(reverse("backoffice:home")).status_code == 200
    session = client.session
    session[LAST_SEEN] = int(time.time()) - 31 * 60
    session.save()
    response = client.get(reverse("backoffice:home"))
    assert response["Location"].startswith(reverse("accounts:login"))
    assert client.get(reverse("backoffice:home"))["Location"].startswith(reverse("accounts:login"))


def test_a_customer_session_does_not_idle_out_after_thirty_minutes(client, personas):
    log_in(client, personas.alice)
    session = client.session
    session[LAST_SEEN] = int(time.time()) - 31 * 60
    session.save()
    assert client.get(reverse("portal:home")).status_code == 200


def test_every_page_sends_the_security_headers(client, personas):
    response = client.get(reverse("accounts:login"))
    csp = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def _production_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLUIS_", "DJANGO_"))}
    env.update(
        KLUIS_DEBUG="0",
        KLUIS_SECRET_KEY="p" * 20 + "roductie-geheim-dat-lang-genoeg-is-voor-django-42",
        KLUIS_ALLOWED_HOSTS="example.nl",
        KLUIS_KVK_NUMBER="12345678",
        KLUIS_VAT_NUMBER="NL000099998B57",
        KLUIS_IBAN="NL91ABNA0417164300",
        KLUIS_VAR_DIR=str(tmp_path),
        # The shipped policy still holds a placeholder name, which production refuses.
        KLUIS_POLICY_DIR=str(policy_dir_filled(tmp_path / "policy")),
    )
    return env


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_sends_hsts_and_secure_cookies(tmp_path):
    code = (
        "import django; django.setup();"
        "from django.conf import settings as s;"
        "print(s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_SSL_REDIRECT)"
    )
    env = _production_env(tmp_path) | {"DJANGO_SETTINGS_MODULE": "kluis.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    hsts, session_secure, csrf_secure, redirect = result.stdout.split()
    assert int(hsts) >= 31536000 and session_secure == csrf_secure == redirect == "True"
