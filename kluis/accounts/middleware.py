"""Staff sessions: a second factor before anything else, and an idle time-out."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _

from kluis.accounts.http import LAST_SEEN
from kluis.accounts.models import User

# What a staff member without a verified second factor may still open.
MFA_SETUP_ALLOWED = frozenset(
    {"accounts:mfa-totp", "accounts:passkeys", "accounts:logout", "set_language"}
)
# Write the last-seen time at most this often, so not every request writes the session.
TOUCH_EVERY = 60


class StaffSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if isinstance(user, User) and user.is_authenticated and user.is_staff_member:
            now = int(time.time())
            seen = request.session.get(LAST_SEEN)
            if isinstance(seen, int) and now - seen > settings.KLUIS_STAFF_IDLE_SECONDS:
                logout(request)
                messages.info(request, _("Je was een half uur niet actief; log opnieuw in."))
                return redirect_to_login(request.get_full_path())
            if not isinstance(seen, int) or now - seen >= TOUCH_EVERY:
                request.session[LAST_SEEN] = now
            if not user.is_verified() and _route(request) not in MFA_SETUP_ALLOWED:  # type: ignore[attr-defined]
                return HttpResponseRedirect(reverse("accounts:mfa-totp"))
        return self.get_response(request)


def _route(request: HttpRequest) -> str:
    try:
        return resolve(request.path_info).view_name
    except Resolver404:
        return ""
