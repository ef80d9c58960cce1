"""EMAIL_URL: where mail goes, as one URL that fails loudly when it is wrong.

    smtp://user:password@relay.example.nl:587?starttls=1   SMTP, STARTTLS upgrade
    smtps://user:password@relay.example.nl                  SMTP over implicit TLS (465)
    smtp://127.0.0.1:2525                                   plain SMTP, e.g. a local relay
    file:///srv/kluis/mail                                  one file per message
    console://                                              printed on standard output
    locmem://                                               kept in memory (tests)

User and password are percent-decoded (write "@" as %40). `?timeout=SECONDS` bounds
every SMTP network step (default 30): a worker must never hang on a dead relay while
its lease on a message runs out. Imported by settings, so it touches no models.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "file": "kluis.mail.backends.AtomicFileBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}
DEFAULT_TIMEOUT = 30
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

# Turns a problem into the error that names the variable (and hides the password).
Fail = Callable[[str], ImproperlyConfigured]


@dataclass(frozen=True)
class EmailConfig:
    """Django's EMAIL_* settings, as one value."""

    backend: str
    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    timeout: int | None = None
    file_path: Path | None = None


def _redacted(parts: SplitResult) -> str:
    """The URL as it may appear in an error message: never with its password."""
    if parts.password is None:
        return parts.geturl()
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def env_email(name: str, *, default: str) -> EmailConfig:
    """The mail settings from the variable `name`, or from `default` when it is unset."""
    raw = os.environ.get(name, "").strip()
    return parse_email_url(raw or default, name=name)


def parse_email_url(raw: str, *, name: str = "EMAIL_URL") -> EmailConfig:
    raw = raw.strip()
    parts = urlsplit(raw)
    shown = _redacted(parts)

    def fail(problem: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"{name}={shown!r}: {problem}")

    scheme = parts.scheme.lower()
    if scheme in ("smtp", "smtps"):
        return _smtp(parts, implicit_tls=scheme == "smtps", fail=fail)
    if scheme not in BACKENDS:
        known = ", ".join(["smtp://", "smtps://", "file:///path", "console://", "locmem://"])
        raise fail(f"unknown scheme; use one of {known}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise fail(f"{scheme}:// takes no user, password, query or fragment")
    if scheme == "file":
        if parts.netloc:
            raise fail("file:// takes an absolute path, with three slashes: file:///path")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise fail("file:// takes an absolute path, with three slashes: file:///path")
        return EmailConfig(backend=BACKENDS["file"], file_path=Path(path))
    if parts.netloc or parts.path not in ("", "/"):
        raise fail(f"{scheme}:// takes nothing after the scheme")
    return EmailConfig(backend=BACKENDS[scheme])


def _smtp(parts: SplitResult, *, implicit_tls: bool, fail: Fail) -> EmailConfig:
    if not parts.hostname:
        raise fail("names no host")
    if parts.path not in ("", "/") or parts.fragment:
        raise fail("an SMTP URL has no path; put options in the query (?starttls=1)")
    try:
        port = parts.port
    except ValueError:
        raise fail("the port is not a number from 1 to 65535") from None
    options = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False))
    unknown = sorted(set(options) - {"starttls", "timeout"})
    if unknown:
        raise fail(f"unknown option {unknown[0]!r}; known: starttls, timeout")
    starttls = _flag(options.get("starttls", "0"), "starttls", fail)
    if starttls and implicit_tls:
        raise fail("smtps:// is already TLS; starttls=1 is for smtp://")
    timeout = DEFAULT_TIMEOUT
    if "timeout" in options:
        try:
            timeout = int(options["timeout"])
        except ValueError:
            raise fail("timeout is not a whole number of seconds") from None
        if timeout < 1:
            raise fail("timeout must be at least 1 second")
    if port is None:
        port = 465 if implicit_tls else 587 if starttls else 25
    if port == 0:
        raise fail("the port is not a number from 1 to 65535")
    return EmailConfig(
        backend=BACKENDS["smtp"],
        host=parts.hostname,
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_tls=starttls,
        use_ssl=implicit_tls,
        timeout=timeout,
    )


def _flag(value: str, option: str, fail: Fail) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise fail(f"{option}={value!r} is not a boolean; use 1 or 0")
