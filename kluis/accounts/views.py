"""Account views: sign up, activate, log in (with MFA), reset, change, log out."""

from __future__ import annotations

from urllib.parse import quote

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from kluis.accounts import forms, passkey_views, services
from kluis.accounts.decorators import login_required
from kluis.accounts.http import (
    client_address,
    current_user,
    device_cookie,
    finish_login,
    home_for,
    pending_mfa,
    safe_next,
    start_mfa,
)
from kluis.accounts.http import wait_message as _wait_message
from kluis.accounts.models import Customer, User
from kluis.accounts.tokens import (
    _AccountTokenGenerator,
    activation_tokens,
    reset_tokens,
    user_for_uid,
)

ISSUER = "winkeltjes.net"


@sensitive_post_parameters("password")
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    if isinstance(request.user, User):
        return redirect(home_for(request.user))
    form = forms.LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = services.login_check(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            client_address=client_address(request),
            device=device_cookie(request),
        )
        if result.user is not None and result.needs_mfa:
            start_mfa(request, result.user)
            return redirect("accounts:login-mfa")
        if result.user is not None:
            return finish_login(request, result.user, device=None, next_url=safe_next(request))
        # One message for an unknown address and a wrong password alike.
        form.add_error(
            None,
            _wait_message(result.blocked_seconds)
            if result.blocked_seconds
            else _("Dit e-mailadres en wachtwoord passen niet bij een account."),
        )
    return render(request, "accounts/login.html", {"form": form, "next": safe_next(request)})


@sensitive_post_parameters("code")
@never_cache
def login_mfa(request: HttpRequest) -> HttpResponse:
    pending = pending_mfa(request)
    if pending is None:
        return redirect("accounts:login")
    user, next_url = pending
    form = forms.MfaForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = services.mfa_check(
            user=user, code=form.cleaned_data["code"], client_address=client_address(request)
        )
        if result.device is not None:
            return finish_login(request, user, device=result.device, next_url=next_url)
        form.add_error(
            "code",
            _wait_message(result.blocked_seconds)
            if result.blocked_seconds
            else _("Deze code klopt niet of is al gebruikt."),
        )
    context = {"form": form, **passkey_views.login_context(request, user)}
    return render(request, "accounts/login_mfa.html", context)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if isinstance(request.user, User):
        services.logout_record(user=request.user)
    auth_logout(request)
    messages.info(request, _("Je bent uitgelogd."))
    return redirect("web:home")


@never_cache
def signup(request: HttpRequest) -> HttpResponse:
    form = forms.SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.customer_sign_up(
                **form.cleaned_data,
                language="en" if (translation.get_language() or "").startswith("en") else "nl",
                client_address=client_address(request),
            )
        except services.AccountError:
            form.add_error(None, _wait_message(3600))
        else:
            return redirect("accounts:signup-done")
    return render(request, "accounts/signup.html", {"form": form})


def signup_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_done.html")


def _choose_password(
    request: HttpRequest, uidb64: str, token: str, tokens: _AccountTokenGenerator, via: str
) -> HttpResponse:
    user = user_for_uid(uidb64)
    if user is None or not user.is_active or not tokens.check_token(user, token):
        return render(request, "accounts/link_invalid.html", status=400)
    form = forms.ChoosePasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.user_set_password(user=user, password=form.cleaned_data["new_password1"], via=via)
        messages.success(request, _("Je wachtwoord is ingesteld. Log nu in."))
        return redirect("accounts:login")
    return render(request, "accounts/choose_password.html", {"form": form, "via": via})


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
def activate(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    return _choose_password(request, uidb64, token, activation_tokens, "activation")


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
def password_reset_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    return _choose_password(request, uidb64, token, reset_tokens, "reset")


@never_cache
def password_reset(request: HttpRequest) -> HttpResponse:
    form = forms.PasswordResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_reset_request(
            email=form.cleaned_data["email"],
            client_address=client_address(request),
            language=(translation.get_language() or "nl")[:2],
        )
        return redirect("accounts:password-reset-sent")
    return render(request, "accounts/password_reset.html", {"form": form})


def password_reset_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_sent.html")


@login_required
def account_settings(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    return render(
        request,
        "accounts/settings.html",
        {"mfa_enabled": services.mfa_enabled(user), "account_user": user},
    )


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = forms.ChangePasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.user_set_password(
            user=user, password=form.cleaned_data["new_password1"], via="change"
        )
        update_session_auth_hash(request, user)  # this session stays; all others end
        messages.success(
            request, _("Je wachtwoord is gewijzigd. Je andere sessies zijn beëindigd.")
        )
        return redirect("accounts:settings")
    return render(request, "accounts/password_change.html", {"form": form})


@login_required
def legal_form(request: HttpRequest) -> HttpResponse:
    """A business customer's legal form; other users are told it is not theirs to give."""
    user = current_user(request)
    customer = user.customer
    if customer is None or customer.kind != Customer.Kind.ORGANISATION:
        return render(request, "accounts/legal_form.html", {"form": None})
    form = forms.LegalFormForm(request.POST or None, initial={"legal_form": customer.legal_form})
    if request.method == "POST" and form.is_valid():
        changed = services.legal_form_set(
            customer=customer, legal_form=form.cleaned_data["legal_form"], by=user
        )
        messages.success(
            request,
            _("Je rechtsvorm is opgeslagen.") if changed else _("Je rechtsvorm was al zo."),
        )
        return redirect("accounts:settings")
    return render(
        request,
        "accounts/legal_form.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


@sensitive_post_parameters("password")
@login_required
def email_change(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = forms.EmailChangeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.email_change_request(user=user, new_email=form.cleaned_data["new_email"])
        messages.success(
            request, _("We hebben een bevestigingslink gestuurd naar je nieuwe e-mailadres.")
        )
        return redirect("accounts:settings")
    return render(request, "accounts/email_change.html", {"form": form})


@never_cache
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    change = services.email_change_pending(token)
    if change is None:
        return render(request, "accounts/link_invalid.html", status=400)
    if request.method == "POST":  # not on GET: mail scanners open links
        try:
            services.email_change_confirm(change=change)
        except services.AccountError:
            return render(request, "accounts/email_taken.html", status=409)
        messages.success(request, _("Je nieuwe e-mailadres is bevestigd."))
        return redirect("accounts:login")
    return render(request, "accounts/email_confirm.html")


# --- two-step verification ----------------------------------------------------------


def _qr_svg(device: TOTPDevice, label: str) -> SafeString:
    """The otpauth:// link as an inline SVG: no script, no style, no external image."""
    import base64

    secret = base64.b32encode(device.bin_key).decode()
    url = (
        f"otpauth://totp/{quote(ISSUER)}:{quote(label)}?secret={secret}"
        f"&issuer={quote(ISSUER)}&algorithm=SHA1&digits={device.digits}&period={device.step}"
    )
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    svg = image.to_string(encoding="unicode")
    # Our own generated markup from a URL without user text: safe to inline.
    return mark_safe(svg[svg.index("<svg") :])  # noqa: S308


def _secret_groups(device: TOTPDevice) -> str:
    import base64

    secret = base64.b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@login_required
def mfa_overview(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    context = {
        "mfa_enabled": services.mfa_enabled(user),
        "app_enabled": services.app_enabled(user),
        "passkey_count": user.passkeys.count(),
    }
    return render(request, "accounts/mfa.html", context)


@sensitive_post_parameters("code")
@never_cache
@login_required
def mfa_totp(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if services.mfa_enabled(user) and not user.is_verified():  # type: ignore[attr-defined]
        raise PermissionDenied  # replacing an app needs a session verified with the old one
    device = services.mfa_totp_start(user=user)
    form = forms.MfaForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.mfa_totp_confirm(device=device, code=form.cleaned_data["code"]):
            from django_otp import login as otp_login

            otp_login(request, device)
            codes = services.mfa_recovery_codes_generate(user=user)
            return render(request, "accounts/mfa_recovery_codes.html", {"codes": codes})
        form.add_error("code", _("Deze code klopt niet. Kijk of de tijd op je telefoon klopt."))
    label = user.customer.number if user.customer else _("medewerker")
    context = {"form": form, "qr": _qr_svg(device, label), "secret": _secret_groups(device)}
    return render(request, "accounts/mfa_totp.html", context)


def _verified(request: HttpRequest) -> None:
    if not current_user(request).is_verified():  # type: ignore[attr-defined]
        raise PermissionDenied


@require_POST
@login_required
def mfa_recovery(request: HttpRequest) -> HttpResponse:
    _verified(request)
    codes = services.mfa_recovery_codes_generate(user=current_user(request))
    return render(request, "accounts/mfa_recovery_codes.html", {"codes": codes})


@require_POST
@login_required
def mfa_disable(request: HttpRequest) -> HttpResponse:
    _verified(request)
    try:
        services.mfa_disable(user=current_user(request))
    except services.AccountError:
        raise PermissionDenied from None
    messages.success(request, _("Tweestapsverificatie staat uit."))
    return redirect("accounts:mfa")
