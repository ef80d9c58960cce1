"""Passkey pages: the list with registration, removal, and the login with a passkey.

The WebAuthn options reach the page as a JSON data block (`json_script`) and the
browser's answer comes back in an ordinary form field, filled in by the static
accounts/passkeys.js: no inline script, no JSON API, CSRF as on every other form.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from kluis.accounts import forms, passkeys, services, webauthn
from kluis.accounts.decorators import login_required
from kluis.accounts.http import (
    client_address,
    current_user,
    finish_login,
    pending_mfa,
    wait_message,
)
from kluis.accounts.models import User

SESSION_REGISTER = "kluis_passkey_register"
SESSION_LOGIN = "kluis_passkey_login"


def _take_challenge(
    request: HttpRequest, key: str, *, kind: str, user: User
) -> webauthn.Challenge | None:
    """The kept challenge, taken out of the session for good before it is used."""
    data = request.session.pop(key, None)
    request.session.save()  # a failed check below cannot leave it for a second try
    try:
        return webauthn.Challenge.from_session(data, kind=kind, user=str(user.pk))
    except webauthn.CeremonyError:
        return None


# --- the login step -------------------------------------------------------------------


def login_context(request: HttpRequest, user: User) -> dict[str, Any]:
    """What the two-step page needs to offer a passkey; a fresh challenge each time."""
    begun = passkeys.login_begin(user=user)
    if begun is None:
        request.session.pop(SESSION_LOGIN, None)
        return {"passkey_options": None, "has_app": services.app_enabled(user)}
    options, challenge = begun
    request.session[SESSION_LOGIN] = challenge.as_session()
    return {
        "passkey_options": options,
        "passkey_form": forms.PasskeyLoginForm(),
        "has_app": services.app_enabled(user),
    }


@require_POST
@never_cache
def login_passkey(request: HttpRequest) -> HttpResponse:
    pending = pending_mfa(request)
    if pending is None:
        return redirect("accounts:login")
    user, next_url = pending
    challenge = _take_challenge(request, SESSION_LOGIN, kind="login", user=user)
    form = forms.PasskeyLoginForm(request.POST)
    error = _("Met deze passkey lukte het inloggen niet. Probeer het opnieuw of vul een code in.")
    if form.is_valid():
        result = passkeys.passkey_login_check(
            user=user,
            response=form.cleaned_data["credential"],
            challenge=challenge,
            client_address=client_address(request),
        )
        if result.device is not None:
            return finish_login(request, user, device=result.device, next_url=next_url)
        if result.blocked_seconds:
            error = wait_message(result.blocked_seconds)
        elif result.clone_suspected:
            error = _(
                "Deze passkey lijkt gekopieerd: zijn teller liep terug. We hebben hem "
                "geblokkeerd. Log in met een code en verwijder hem."
            )
    context = {
        "form": forms.MfaForm(),
        "passkey_error": error,
        **login_context(request, user),
    }
    return render(request, "accounts/login_mfa.html", context)


# --- the list and registration ----------------------------------------------------------


def _require_verified_if_enrolled(user: User) -> None:
    # Adding a second factor to an account that has one needs a session that passed it.
    if services.mfa_enabled(user) and not user.is_verified():  # type: ignore[attr-defined]
        raise PermissionDenied


def _passkeys_page(
    request: HttpRequest, user: User, form: forms.PasskeyRegisterForm, status: int = 200
) -> HttpResponse:
    context: dict[str, Any] = {
        "form": form,
        "passkeys": passkeys.passkeys_listed(user),
        "possible": webauthn.passkeys_possible(),
        "has_app": services.app_enabled(user),
    }
    if context["possible"]:
        options, challenge = passkeys.registration_begin(user=user)
        request.session[SESSION_REGISTER] = challenge.as_session()
        context["passkey_options"] = options
    return render(request, "accounts/passkeys.html", context, status=status)


@never_cache
@login_required
def passkey_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    _require_verified_if_enrolled(user)
    if request.method != "POST":
        return _passkeys_page(request, user, forms.PasskeyRegisterForm())
    challenge = _take_challenge(request, SESSION_REGISTER, kind="register", user=user)
    form = forms.PasskeyRegisterForm(request.POST)
    if not form.is_valid():
        return _passkeys_page(request, user, form)
    first = not services.mfa_enabled(user)
    try:
        if challenge is None:
            raise webauthn.CeremonyError("no challenge")
        passkeys.passkey_register(
            user=user,
            name=form.cleaned_data["name"],
            response=form.cleaned_data["credential"],
            challenge=challenge,
        )
    except webauthn.CeremonyError:
        form.add_error(None, _("Je passkey kon niet worden ingesteld. Probeer het opnieuw."))
        return _passkeys_page(request, user, form)
    except passkeys.PasskeyError as exc:
        form.add_error(None, str(exc))
        return _passkeys_page(request, user, form)
    if not user.is_verified():  # type: ignore[attr-defined]
        otp_login(request, passkeys.device_of(user))
    if first:
        codes = services.mfa_recovery_codes_generate(user=user)
        return render(request, "accounts/mfa_recovery_codes.html", {"codes": codes})
    messages.success(request, _("Je passkey is ingesteld."))
    return redirect("accounts:passkeys")


# --- removal ----------------------------------------------------------------------------


@sensitive_post_parameters("password")
@never_cache
@login_required
def passkey_remove(request: HttpRequest, passkey_id: uuid.UUID) -> HttpResponse:
    user = current_user(request)
    passkey = passkeys.own_passkey(user, passkey_id)
    if passkey is None:
        raise Http404
    if not user.is_verified():  # type: ignore[attr-defined]
        raise PermissionDenied
    form = forms.PasskeyRemoveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        checked = passkeys.reauthenticate(
            user=user,
            password=form.cleaned_data["password"],
            client_address=client_address(request),
        )
        if checked.blocked_seconds:
            form.add_error(None, wait_message(checked.blocked_seconds))
        elif not checked.ok:
            form.add_error("password", _("Dit wachtwoord klopt niet."))
        else:
            try:
                passkeys.passkey_remove(user=user, passkey=passkey)
            except passkeys.PasskeyError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("De passkey is verwijderd."))
                return redirect("accounts:passkeys")
    [row] = passkeys.passkeys_listed(user, only=passkey.pk)
    return render(request, "accounts/passkey_remove.html", {"form": form, "passkey": row})
