"""The emails of the accounts app: one function each, with its own templates.

Each email has `accounts/email/<name>/subject.txt`, `body.txt` and `body.html`, with
Dutch source text and English translations, rendered in the customer's language.
What a customer typed (a name) only ever enters as template context, so it shows
as typed and is escaped in HTML. The address is the one stored in the account,
opened by the vault for the declared purpose "account_management"; an address
typed into a form is never the destination.

Mail goes out through django.core.mail for now; the mail app's outbox takes over.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from kluis.accounts.models import EmailChange, User
from kluis.accounts.tokens import activation_tokens, reset_tokens, uid_for
from kluis.policy.enforce import Actor

PURPOSE = "account_management"
MAILER = Actor.system("accounts.mail")


def _link(name: str, **kwargs: str) -> str:
    return settings.KLUIS_BASE_URL + reverse(name, kwargs=kwargs)


def _send(*, template: str, to: str, language: str, context: dict[str, Any]) -> None:
    context = {"site_name": "winkeltjes.net", **context}
    with translation.override(language):
        subject = render_to_string(f"accounts/email/{template}/subject.txt", context)
        text = render_to_string(f"accounts/email/{template}/body.txt", context)
        html = render_to_string(f"accounts/email/{template}/body.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()), body=text, to=[to], from_email=None
    )
    message.attach_alternative(html, "text/html")
    message.send()


def _address(user: User) -> str:
    return str(user.email.reveal(purpose=PURPOSE, actor=MAILER))


def _name(user: User) -> str:
    customer = user.customer
    if customer is None or customer.name is None:
        return ""
    return str(customer.name.reveal(purpose=PURPOSE, actor=MAILER))


def send_activation(user: User) -> None:
    link = _link(
        "accounts:activate", uidb64=uid_for(user), token=activation_tokens.make_token(user)
    )
    _send(
        template="activation",
        to=_address(user),
        language=user.language,
        context={"name": _name(user), "link": link, "staff": user.is_staff_member},
    )


def send_password_reset(user: User) -> None:
    link = _link(
        "accounts:password-reset-confirm", uidb64=uid_for(user), token=reset_tokens.make_token(user)
    )
    _send(
        template="password_reset",
        to=_address(user),
        language=user.language,
        context={"name": _name(user), "link": link},
    )


def send_reset_unknown(address: str, language: str) -> None:
    """To a typed address with no account: the same mail a reset would be, saying so.

    The address is used for this one mail and kept nowhere; the visitor sees the same
    page as for an address with an account, and kluis did the same work.
    """
    _send(
        template="password_reset_unknown",
        to=address,
        language=language,
        context={"signup_link": _link("accounts:signup")},
    )


def send_signup_exists(user: User) -> None:
    _send(
        template="signup_exists",
        to=_address(user),
        language=user.language,
        context={
            "name": _name(user),
            "login_link": _link("accounts:login"),
            "reset_link": _link("accounts:password-reset"),
        },
    )


def send_email_change_confirm(change: EmailChange, token: str) -> None:
    user = change.user
    _send(
        template="email_change_confirm",
        to=change.new_email.reveal(purpose=PURPOSE, actor=MAILER),
        language=user.language,
        context={"name": _name(user), "link": _link("accounts:email-confirm", token=token)},
    )


def send_email_change_notice(user: User) -> None:
    """To the old address: a change was asked for; nothing happens until confirmed."""
    _send(
        template="email_change_notice",
        to=_address(user),
        language=user.language,
        context={"name": _name(user), "reset_link": _link("accounts:password-reset")},
    )


def send_email_changed(user: User, old_address: str) -> None:
    """To the old address once the change took effect."""
    _send(
        template="email_changed",
        to=old_address,
        language=user.language,
        context={"name": _name(user), "reset_link": _link("accounts:password-reset")},
    )
