"""Signed, expiring, single-use links for activation and password reset.

Both hash the account's password hash, last login and email blind index into the
token, so a link stops working as soon as it has been used (the password changed),
after any login, and when the address changes. They differ in salt, so an
activation link is no reset link, and in lifetime.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes, force_str
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

from kluis.accounts.models import User


class _AccountTokenGenerator(PasswordResetTokenGenerator):
    timeout_setting = "PASSWORD_RESET_TIMEOUT"

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        # Django's default hashes the email attribute, which is a sealed value here.
        login = (
            "" if user.last_login is None else user.last_login.replace(microsecond=0, tzinfo=None)
        )
        return f"{user.pk}{user.password}{login}{timestamp}{user.email_index}{user.is_active}"

    def check_token(self, user: Any, token: str | None) -> bool:
        if not (user and token):
            return False
        try:
            ts_b36, _ = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        for secret in [self.secret, *self.secret_fallbacks]:
            if constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token):
                break
        else:
            return False
        age = self._num_seconds(self._now()) - ts
        return bool(0 <= age <= int(getattr(settings, self.timeout_setting)))


class ResetTokenGenerator(_AccountTokenGenerator):
    key_salt = "kluis.accounts.tokens.reset"


class ActivationTokenGenerator(_AccountTokenGenerator):
    key_salt = "kluis.accounts.tokens.activation"
    timeout_setting = "KLUIS_ACTIVATION_TIMEOUT"


reset_tokens = ResetTokenGenerator()
activation_tokens = ActivationTokenGenerator()


def uid_for(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def user_for_uid(uidb64: str) -> User | None:
    try:
        pk = uuid.UUID(force_str(urlsafe_base64_decode(uidb64)))
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk).first()


def new_link_token() -> tuple[str, str]:
    """A random token for a link, and the hash of it that is stored."""
    token = secrets.token_urlsafe(32)
    return token, link_token_hash(token)


def link_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
