"""The outside test's probes, kept as a harness: what an attacker tries from outside.

IDOR across every object URL is kluis/accounts/tests/test_access_control.py (customer B
gets 404 for each of customer A's objects, each role only its pages); the canaries are
kluis/vault/tests/test_canary.py. This module keeps the rest: security headers, Host
header poisoning, CSRF, open redirects, throttling and template injection.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from kluis.audit.models import AuditEntry
from kluis.testing import PASSWORD, log_in

pytestmark = pytest.mark.django_db(databases="__all__")

PUBLIC_PAGES = ["web:home", "web:contact", "accounts:login", "accounts:signup", "policy:statement"]
EVIL = ["https://evil.example/", "//evil.example/", "/\\evil.example/", "https:evil.example"]


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_every_page_sends_the_security_headers(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_portal_and_back_office_pages_send_them_too(client, personas):
    log_in(client, personas.alice)
    portal = client.get(reverse("portal:my-data"))
    log_in(client, personas.staff["support"])
    backoffice = client.get(reverse("backoffice:home"))
    for response in (portal, backoffice):
        assert response.status_code == 200
        assert response["X-Frame-Options"] == "DENY"
        assert "default-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "localhost:80@evil"])
def test_a_foreign_host_header_is_refused(client, host):
    assert client.get("/", HTTP_HOST=host).status_code == 400


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("accounts:login", {"email": "alice@example.nl", "password": PASSWORD}),
        ("web:contact", {"name": "Eve", "email": "eve@example.nl", "message": "hoi"}),
        ("accounts:signup", {"kind": "person", "name": "Eve", "email": "eve@example.nl"}),
    ],
)
def test_a_post_without_a_csrf_token_is_refused_and_changes_nothing(personas, name, data):
    client = Client(enforce_csrf_checks=True)
    before = AuditEntry.objects.count()
    response = client.post(reverse(name), data)
    assert response.status_code == 403
    assert AuditEntry.objects.count() == before
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("target", EVIL)
def test_login_never_redirects_off_site(client, personas, target):
    response = client.post(
        f"{reverse('accounts:login')}?next={target}",
        {"email": "alice@example.nl", "password": PASSWORD, "next": target},
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert "evil" not in location


def test_password_reset_is_throttled_per_address(client, personas):
    from django.core import mail

    from kluis.accounts.services import password_reset_requests_handle

    url = reverse("accounts:password-reset")
    for _ in range(12):
        client.post(url, {"email": "alice@example.nl"}, REMOTE_ADDR="203.0.113.9")
    password_reset_requests_handle()  # the worker's part
    # The page answers alike every time (no oracle); the mails stop.
    assert 1 <= len(mail.outbox) < 12


def test_template_syntax_in_a_question_is_shown_as_typed_to_support(client, personas):
    from kluis.web.models import Question

    typed = "{{ request.user }}{% debug %}<script>alert(1)</script>"
    client.post(
        reverse("web:contact"), {"name": "Eve", "email": "eve@example.nl", "message": typed}
    )
    question = Question.objects.get()
    staff = Client()
    log_in(staff, personas.staff["support"])
    url = reverse("web_backoffice:question-reveal", kwargs={"question_id": question.pk})
    page = staff.post(url, {"field": "message"}).content.decode()
    assert "{{ request.user }}{% debug %}&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
