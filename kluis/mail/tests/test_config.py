"""EMAIL_URL: each good form gives Django's mail settings; each bad one stops start-up."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from kluis.mail.config import BACKENDS, env_email, parse_email_url


def test_smtp_with_starttls_and_credentials_becomes_the_smtp_backend():
    config = parse_email_url("smtp://mailer:s%40cret@relay.example.nl:587?starttls=1")
    assert config.backend == BACKENDS["smtp"]
    assert (config.host, config.port, config.user, config.password) == (
        "relay.example.nl",
        587,
        "mailer",
        "s@cret",
    )
    assert config.use_tls and not config.use_ssl
    assert config.timeout == 30


def test_smtps_is_implicit_tls_on_port_465():
    config = parse_email_url("smtps://mailer:pw@relay.example.nl")
    assert config.use_ssl and not config.use_tls and config.port == 465


def test_plain_smtp_defaults_to_port_25_and_takes_a_timeout():
    config = parse_email_url("smtp://127.0.0.1?timeout=5")
    assert (config.port, config.timeout, config.use_tls, config.user) == (25, 5, False, "")


def test_file_console_and_locmem_pick_their_backends():
    assert parse_email_url("file:///srv/kluis/mail").file_path == Path("/srv/kluis/mail")
    assert parse_email_url("file:///srv/kluis/mail").backend == BACKENDS["file"]
    assert parse_email_url("console://").backend == BACKENDS["console"]
    assert parse_email_url("locmem://").backend == BACKENDS["locmem"]


def test_unset_it_writes_files_to_var_mail(monkeypatch):
    monkeypatch.delenv("EMAIL_URL", raising=False)
    default = (settings.VAR_DIR / "mail").as_uri()
    config = env_email("EMAIL_URL", default=default)
    assert config.backend == BACKENDS["file"]
    assert config.file_path == settings.VAR_DIR / "mail"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ftp://relay.example.nl", "unknown scheme"),
        ("relay.example.nl:25", "unknown scheme"),
        ("smtp://", "names no host"),
        ("smtp://relay.example.nl:port", "port is not a number"),
        ("smtp://relay.example.nl:70000", "port is not a number"),
        ("smtp://relay.example.nl?starttls=maybe", "not a boolean"),
        ("smtp://relay.example.nl?tls=1", "unknown option 'tls'"),
        ("smtp://relay.example.nl?timeout=0", "at least 1 second"),
        ("smtp://relay.example.nl?timeout=soon", "whole number"),
        ("smtps://relay.example.nl?starttls=1", "already TLS"),
        ("smtp://relay.example.nl/inbox", "no path"),
        ("file://var/mail", "absolute path"),
        ("file:///var/mail?x=1", "takes no user"),
        ("console://somewhere", "nothing after the scheme"),
    ],
)
def test_a_bad_value_is_refused_with_the_variable_name(value, problem):
    with pytest.raises(ImproperlyConfigured) as refused:
        parse_email_url(value)
    message = str(refused.value)
    assert message.startswith("EMAIL_URL=") and problem in message


def test_the_password_never_appears_in_the_error():
    with pytest.raises(ImproperlyConfigured) as refused:
        parse_email_url("smtp://mailer:hunter2-geheim@relay.example.nl?tls=1")
    assert "hunter2-geheim" not in str(refused.value)
    assert "mailer:***@relay.example.nl" in str(refused.value)


def test_a_bad_email_url_stops_start_up():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(EMAIL_URL="smtp://relay.example.nl:smtp", KLUIS_VAR_DIR=str(settings.VAR_DIR))
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "EMAIL_URL='smtp://relay.example.nl:smtp'" in result.stderr
