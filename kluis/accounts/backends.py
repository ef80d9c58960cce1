from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from kluis.accounts.models import User


class BlindIndexEmailBackend(BaseBackend):
    """Log in by email address, found through its blind index, and password."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        email = kwargs.get("email", username)
        if not email or password is None:
            return None
        user = User.objects.get_by_email(email)
        if user is None:
            # Hash anyway, so an unknown address costs the same time as a known one.
            User().set_password(password)
            return None
        if user.check_password(password) and user.is_active:
            return user
        return None

    def get_user(self, user_id: Any) -> User | None:
        return User.objects.filter(pk=user_id, is_active=True).first()
