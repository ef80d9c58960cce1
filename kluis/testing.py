"""Shared test personas and the route registry of the access-control harness.

Personas (after Healthchecks' hc/test.py): two customers, Alice and Bob, and one
staff member per role, each staff member with a confirmed authenticator app.
Passwords are hashed once per process, so personas cost no Argon2 time.

ROUTES says, for every URL name, who may open it and how to build the URL for an
object of Alice. kluis/accounts/tests/test_access_control.py walks every URL pattern
and fails for a pattern that takes an argument (an object id, a token) and is not
registered here, and for any portal or back-office page that is not registered:
a later issue that adds such a URL adds its line here.
"""

from __future__ import annotations

import datetime
import functools
import importlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from django.contrib.auth.hashers import make_password
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from kluis.accounts.models import Customer, EmailChange, User
from kluis.accounts.tokens import activation_tokens, new_link_token, reset_tokens, uid_for

# Long enough for staff, and in no list of common passwords.
PASSWORD = "paars-kanaal-vijftien-fietsen"  # noqa: S105
STAFF_ROLES = ("orders", "finance", "support", "privacy_officer", "admin")
_numbers = itertools.count(1)


@functools.cache
def password_hash() -> str:
    return make_password(PASSWORD)


def make_customer(
    *,
    name: str,
    email: str,
    phone: str | None = None,
    vat_number: str | None = None,
    language: str = "nl",
    password: bool = True,
) -> User:
    """A customer with a login; the password is PASSWORD unless `password` is False."""
    customer = Customer(number=f"T{next(_numbers):07d}", name=name, email=email, language=language)
    if phone:
        customer.phone = phone
    if vat_number:
        customer.vat_number = vat_number
    customer.save()
    user = User(email=email, kind=User.Kind.CUSTOMER, customer=customer)
    if password:
        user.password = password_hash()
    else:
        user.set_unusable_password()
    user.save()
    return user


def make_staff(
    *, roles: list[str], email: str | None = None, mfa: bool = True, name: str = ""
) -> User:
    number = next(_numbers)
    user = User(
        email=email or f"staff-{number}@winkeltjes.net",
        kind=User.Kind.STAFF,
        roles=roles,
        password=password_hash(),
        display_name=name or f"Medewerker {number}",
    )
    user.save()
    if mfa:
        TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    return user


def totp_device(user: User) -> TOTPDevice:
    return TOTPDevice.objects.get(user=user, confirmed=True)


def log_in(client: Client, user: User, *, verified: bool = True) -> None:
    """A session as after a full login (with the second factor, if `verified`)."""
    client.force_login(user, backend="kluis.accounts.backends.BlindIndexEmailBackend")
    if verified and TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
        session.save()


@dataclass
class Personas:
    alice: User
    bob: User
    staff: dict[str, User]

    @property
    def customer_a(self) -> Customer:
        assert self.alice.customer is not None
        return self.alice.customer

    @property
    def customer_b(self) -> Customer:
        assert self.bob.customer is not None
        return self.bob.customer


def make_personas() -> Personas:
    return Personas(
        alice=make_customer(
            name="Alice de Vries",
            email="alice@example.nl",
            phone="+31201234567",
            vat_number="NL000099998B57",
        ),
        bob=make_customer(name="Bob Jansen", email="bob@example.nl"),
        staff={
            role: make_staff(roles=[role], email=f"{role}@winkeltjes.net") for role in STAFF_ROLES
        },
    )


# --- the route registry -------------------------------------------------------------

Audience = Literal["public", "token", "account", "portal", "backoffice", "api"]
KwargsBuilder = Callable[[Personas], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    """Who may open a URL.

    public: anyone. token: anyone holding the link (activation, reset, confirm).
    account: any logged-in user. portal: the customer whose object it is.
    backoffice: staff with one of `roles` (empty: every staff member).
    api: a REST API operation, opened with a token holding `scope` (and for staff one
    of `roles`), never with a session; kluis/api/tests/test_access.py walks these.
    `kwargs` builds the URL arguments for an object that belongs to Alice; `data`
    the body of a POST that a permitted user may send.

    The harness reads the bodies too (kluis/accounts/tests/test_access_control.py):
    `shows` names the categories of personal data a back-office page may show in
    plain text to the roles that may open it (it shows no other without a reveal);
    `expect` gives, from the URL arguments, a text the page must show of its object
    (its number), so a page that shows another object than the one asked fails.
    """

    audience: Audience
    roles: frozenset[str] = frozenset()
    method: Literal["get", "post", "put", "patch", "delete"] = "get"
    kwargs: KwargsBuilder | None = None
    data: KwargsBuilder | None = field(default=None)
    shows: frozenset[str] = frozenset()
    expect: Callable[[dict[str, Any]], str] | None = None
    scope: str = ""


CUSTOMER_ROLES = frozenset({"orders", "finance", "support", "privacy_officer"})


def _policy_version() -> str:
    from kluis.policy.loader import current_policy

    return current_policy().version


def _alice_customer(p: Personas) -> dict[str, Any]:
    return {"customer_id": p.customer_a.id}


def _activation(p: Personas) -> dict[str, Any]:
    return {"uidb64": uid_for(p.alice), "token": activation_tokens.make_token(p.alice)}


def _reset(p: Personas) -> dict[str, Any]:
    return {"uidb64": uid_for(p.alice), "token": reset_tokens.make_token(p.alice)}


def _email_change(p: Personas) -> dict[str, Any]:
    token, token_hash = new_link_token()
    EmailChange(user=p.alice, new_email="alice.nieuw@example.nl", token_hash=token_hash).save()
    return {"token": token}


def _alice_passkey(p: Personas) -> dict[str, Any]:
    import secrets

    from kluis.accounts.models import Passkey
    from kluis.accounts.webauthn import credential_hash

    credential_id = secrets.token_bytes(32)
    passkey = Passkey(
        user=p.alice,
        name="laptop",
        credential_id=credential_id,
        credential_hash=credential_hash(credential_id),
        public_key=secrets.token_bytes(77),
    )
    passkey.save()
    return {"passkey_id": passkey.pk}


def _a_staff_member(p: Personas) -> dict[str, Any]:
    return {"user_id": p.staff["orders"].pk}


def _a_role_grant(p: Personas) -> dict[str, Any]:
    from kluis.accounts.models import RoleGrant

    grant = RoleGrant.objects.create(
        staff=p.staff["orders"], role="finance", requested_by=p.staff["support"]
    )
    return {"grant_id": grant.pk}


def _a_question(p: Personas) -> dict[str, Any]:
    from kluis.web.models import Question

    question = Question(
        name="Alice de Vries",
        email="alice@example.nl",
        message="Hoe verhuis ik mijn webwinkel?",
        reference=f"V-T{next(_numbers):07d}",
    )
    question.save()
    return {"question_id": question.id}


def _alice_order(p: Personas) -> dict[str, Any]:
    from kluis.shop.testing import make_order

    return {"order_id": make_order(p.customer_a).pk}


def _withdrawal_link(p: Personas) -> dict[str, Any]:
    from kluis.shop.testing import make_order
    from kluis.shop.withdrawal import link_token

    return {"token": link_token(make_order(p.customer_a), timezone.now())}


def _alice_subscription(p: Personas) -> dict[str, Any]:
    from kluis.shop.testing import make_subscription

    return {"subscription_id": make_subscription(p.customer_a)[0].pk}


def _failed_registration(p: Personas) -> dict[str, Any]:
    from kluis.domains.testing import failed_registration_kwargs

    return failed_registration_kwargs(p)


def _domains(name: str) -> KwargsBuilder:
    def build(p: Personas) -> dict[str, Any]:
        from kluis.domains import testing

        builder: KwargsBuilder = getattr(testing, name)
        return builder(p)

    return build


def _registered_domain(p: Personas) -> dict[str, Any]:
    from kluis.domains.testing import registered_domain_kwargs

    return registered_domain_kwargs(p)


def _order_number(kwargs: dict[str, Any]) -> str:
    from kluis.shop.models import Order

    return Order.objects.get(pk=kwargs["order_id"]).number


def _subscription_order_number(kwargs: dict[str, Any]) -> str:
    from kluis.shop.models import Subscription

    return Subscription.objects.get(pk=kwargs["subscription_id"]).line.order.number


def _customer_number(kwargs: dict[str, Any]) -> str:
    return Customer.objects.get(pk=kwargs["customer_id"]).number


def _question_reference(kwargs: dict[str, Any]) -> str:
    from kluis.web.models import Question

    return Question.objects.get(pk=kwargs["question_id"]).reference


def _alice_order_pdf(p: Personas) -> dict[str, Any]:
    return {**_alice_order(p), "kind": "agreement"}


def _a_product(p: Personas) -> dict[str, Any]:
    from kluis.shop.catalogue import catalogue_load
    from kluis.shop.models import Product

    catalogue_load()
    return {"product_id": Product.objects.order_by("pk").values_list("pk", flat=True)[0]}


def _an_extension(p: Personas) -> dict[str, Any]:
    from kluis.shop.catalogue import catalogue_load
    from kluis.shop.models import DomainExtension

    catalogue_load()
    return {"extension_id": DomainExtension.objects.get(tld="nl").pk}


def _shop_document(p: Personas) -> dict[str, Any]:
    from kluis.shop.documents import current_version

    return {"kind": "agreement", "version": current_version("agreement"), "lang": "nl"}


SHOP_CATALOGUE_ROLES = frozenset({"orders", "admin"})


def _a_price_change(p: Personas) -> dict[str, Any]:
    """A new price from a day two months ahead: a change a catalogue role may plan."""
    return {
        "new_price": "12.34",
        "effective_on": (timezone.localdate() + datetime.timedelta(days=60)).isoformat(),
    }


# --- data-subject rights (builders in kluis/rights/testing.py) ---------------------

PRIVACY_OFFICER = frozenset({"privacy_officer"})


def _rights(name: str) -> KwargsBuilder:
    def build(p: Personas) -> dict[str, Any]:
        from kluis.rights import testing

        builder: KwargsBuilder = getattr(testing, name)
        return builder(p)

    return build


def _approved_police(p: Personas) -> dict[str, Any]:
    from kluis.rights.testing import police_kwargs

    return police_kwargs(p, status="approved")


# --- billing (builders in kluis/billing/testing.py) --------------------------------------

FINANCE = frozenset({"finance"})


def _billing(name: str) -> KwargsBuilder:
    def build(p: Personas) -> dict[str, Any]:
        from kluis.billing import testing

        builder: KwargsBuilder = getattr(testing, name)
        return builder(p)

    return build


# --- sites (builders in kluis/sites/testing.py) ------------------------------------------


def _api(name: str) -> KwargsBuilder:
    def build(p: Personas) -> dict[str, Any]:
        from kluis.api import testing

        builder: KwargsBuilder = getattr(testing, name)
        return builder(p)

    return build


def _text_file(name: str, content: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="text/plain")


def _builder_in(module: str) -> Callable[[str], KwargsBuilder]:
    """`name` -> the builder of that name in `module`, imported when a test runs it."""

    def named(name: str) -> KwargsBuilder:
        def build(p: Personas) -> dict[str, Any]:
            builder: KwargsBuilder = getattr(importlib.import_module(module), name)
            return builder(p)

        return build

    return named


_sites = _builder_in("kluis.sites.testing")
_usage = _builder_in("kluis.usage.testing")


SITES_DESK = frozenset({"support", "orders", "finance"})
SUPPORT = frozenset({"support"})


ROUTES: dict[str, Route] = {
    # public pages of other apps
    "web:home": Route("public"),
    "policy:statement": Route("public"),
    "policy:version": Route(
        "public", kwargs=lambda p: {"version": _policy_version(), "lang": "en"}
    ),
    "policy:pdf": Route("public", kwargs=lambda p: {"version": _policy_version(), "lang": "nl"}),
    "set_language": Route("public", method="post"),
    # accounts
    "accounts:login": Route("public"),
    "accounts:login-mfa": Route("public"),
    "accounts:logout": Route("public", method="post"),
    "accounts:signup": Route("public"),
    "accounts:signup-done": Route("public"),
    "accounts:activate": Route("token", kwargs=_activation),
    "accounts:password-reset": Route("public"),
    "accounts:password-reset-sent": Route("public"),
    "accounts:password-reset-confirm": Route("token", kwargs=_reset),
    "accounts:email-confirm": Route("token", kwargs=_email_change),
    "accounts:settings": Route("account"),
    "accounts:password-change": Route("account"),
    "accounts:email-change": Route("account"),
    "accounts:legal-form": Route("account"),
    "accounts:mfa": Route("account"),
    "accounts:mfa-totp": Route("account"),
    "accounts:mfa-recovery": Route("account", method="post"),
    "accounts:mfa-disable": Route("account", method="post"),
    "accounts:login-passkey": Route("public", method="post"),
    "accounts:passkeys": Route("account"),
    "accounts:passkey-remove": Route("account", kwargs=_alice_passkey),
    # the customer portal
    "portal:home": Route("portal"),
    "portal:my-data": Route("portal"),
    # the back office
    "backoffice:home": Route("backoffice"),
    "backoffice:customers": Route("backoffice", roles=CUSTOMER_ROLES),
    "backoffice:customer": Route(
        "backoffice", roles=CUSTOMER_ROLES, kwargs=_alice_customer, expect=_customer_number
    ),
    "backoffice:customer-reveal": Route(
        "backoffice",
        roles=CUSTOMER_ROLES,
        method="post",
        kwargs=_alice_customer,
        data=lambda p: {
            "field": "email",
            "purpose": "contract_administration",
            "case": f"order:{_alice_order(p)['order_id']}",
        },
    ),
    "backoffice:customer-password-reset": Route(
        "backoffice",
        roles=frozenset({"support"}),
        method="post",
        kwargs=_alice_customer,
        data=lambda p: {"user": str(p.alice.pk)},
    ),
    "backoffice:staff": Route("backoffice", roles=frozenset({"admin"})),
    "backoffice:staff-roles": Route(
        "backoffice", roles=frozenset({"admin"}), method="post", kwargs=_a_staff_member
    ),
    "backoffice:staff-deactivate": Route(
        "backoffice", roles=frozenset({"admin"}), method="post", kwargs=_a_staff_member
    ),
    "backoffice:role-grant-decide": Route(
        "backoffice",
        roles=frozenset({"admin"}),
        method="post",
        kwargs=_a_role_grant,
        data=lambda p: {"approve": "no"},
    ),
    # the public site (kluis.web) and its back-office pages
    "web:contact": Route("public"),
    "web:contact-sent": Route("public"),
    "web:healthz": Route("public"),
    "web:cookies": Route("public"),
    "web_backoffice:questions": Route("backoffice", roles=frozenset({"support"})),
    "web_backoffice:question": Route(
        "backoffice", roles=frozenset({"support"}), kwargs=_a_question, expect=_question_reference
    ),
    "web_backoffice:question-reveal": Route(
        "backoffice",
        roles=frozenset({"support"}),
        method="post",
        kwargs=_a_question,
        data=lambda p: {"field": "message"},
    ),
    "web_backoffice:question-answer": Route(
        "backoffice",
        roles=frozenset({"support"}),
        method="post",
        kwargs=_a_question,
        data=lambda p: {"body": "Zo doe je dat.", "after": "0"},
    ),
    "web_backoffice:question-close": Route(
        "backoffice", roles=frozenset({"support"}), method="post", kwargs=_a_question
    ),
    "web_backoffice:statistics": Route("backoffice", roles=frozenset({"admin"})),
    # the shop (kluis/shop)
    "shop:catalogue": Route("public"),
    "shop:cart": Route("public"),
    "shop:cart-add": Route("public", method="post"),
    "shop:cart-add-domain": Route("public", method="post"),
    "shop:cart-remove": Route("public", method="post"),
    "shop:prices": Route("public", method="post", data=lambda p: {"show": "excl"}),
    "shop:checkout": Route("public"),
    "shop:confirmation": Route("public"),
    "shop:document": Route("public", kwargs=_shop_document),
    "shop:withdraw": Route("public"),
    "shop:withdraw-sent": Route("public"),
    "shop:withdraw-link": Route("token", kwargs=_withdrawal_link),
    "shop_portal:orders": Route("portal"),
    "shop_portal:order": Route("portal", kwargs=_alice_order, expect=_order_number),
    "shop_portal:order-pdf": Route("portal", kwargs=_alice_order_pdf),
    "shop_portal:order-withdraw": Route("portal", kwargs=_alice_order, expect=_order_number),
    "shop_portal:order-confirm": Route("portal", method="post", kwargs=_alice_order),
    "shop_portal:subscriptions": Route("portal"),
    "shop_portal:subscription-end": Route("portal", kwargs=_alice_subscription),
    "shop_portal:documents": Route("portal"),
    "shop_portal:documents-accept": Route("portal", method="post", data=lambda p: {"accept": "on"}),
    "shop_backoffice:orders": Route("backoffice", roles=frozenset({"orders"})),
    "shop_backoffice:order": Route(
        "backoffice", roles=frozenset({"orders"}), kwargs=_alice_order, expect=_order_number
    ),
    "shop_backoffice:order-move": Route(
        "backoffice",
        roles=frozenset({"orders"}),
        method="post",
        kwargs=_alice_order,
        data=lambda p: {"status": "awaiting_payment"},
    ),
    "shop_backoffice:vat-checks": Route("backoffice", roles=FINANCE),
    "shop_backoffice:vat-check-by-hand": Route(
        "backoffice",
        roles=FINANCE,
        method="post",
        kwargs=_alice_order,
        data=lambda p: {"valid": "yes", "method": "VIES-website, raadplegingsnummer WAPI123"},
    ),
    "shop_backoffice:subscriptions": Route("backoffice", roles=frozenset({"orders"})),
    "shop_backoffice:subscription-end": Route(
        "backoffice",
        roles=frozenset({"orders"}),
        kwargs=_alice_subscription,
        expect=_subscription_order_number,
    ),
    "shop_backoffice:catalogue": Route("backoffice", roles=SHOP_CATALOGUE_ROLES),
    "shop_backoffice:product": Route("backoffice", roles=SHOP_CATALOGUE_ROLES, kwargs=_a_product),
    "shop_backoffice:extension": Route(
        "backoffice", roles=SHOP_CATALOGUE_ROLES, kwargs=_an_extension
    ),
    "shop_backoffice:product-price": Route(
        "backoffice",
        roles=SHOP_CATALOGUE_ROLES,
        method="post",
        kwargs=_a_product,
        data=_a_price_change,
    ),
    "shop_backoffice:extension-price": Route(
        "backoffice",
        roles=SHOP_CATALOGUE_ROLES,
        method="post",
        kwargs=_an_extension,
        data=_a_price_change,
    ),
    # billing (kluis/billing)
    "billing_portal:invoices": Route("portal"),
    "billing_portal:invoice-pdf": Route("portal", kwargs=_billing("invoice_kwargs")),
    "billing_backoffice:overview": Route("backoffice", roles=FINANCE),
    "billing_backoffice:invoice-pdf": Route(
        "backoffice", roles=FINANCE, kwargs=_billing("invoice_kwargs")
    ),
    "billing_backoffice:statements": Route("backoffice", roles=FINANCE),
    "billing_backoffice:payment-link": Route(
        "backoffice", roles=FINANCE, method="post", kwargs=_billing("proposed_payment_kwargs")
    ),
    "billing_backoffice:payment-assign": Route(
        "backoffice", roles=FINANCE, method="post", kwargs=_billing("unmatched_payment_kwargs")
    ),
    "billing_backoffice:refunds": Route("backoffice", roles=FINANCE),
    "billing_backoffice:refund-decide": Route(
        "backoffice",
        roles=FINANCE,
        method="post",
        kwargs=_billing("refund_kwargs"),
        data=lambda p: {"approve": "yes"},
    ),
    "billing_backoffice:refund-payee": Route(
        "backoffice",
        roles=FINANCE,
        method="post",
        kwargs=_billing("refund_kwargs"),
        data=lambda p: {"iban": "NL91ABNA0417164300", "name": "A. de Vries"},
    ),
    "billing_backoffice:refund-reject": Route(
        "backoffice",
        roles=FINANCE,
        method="post",
        kwargs=_billing("refund_kwargs"),
        data=lambda p: {"reason": "Klant betaalt zelf terug"},
    ),
    "billing_backoffice:refunds-export": Route("backoffice", roles=FINANCE, method="post"),
    "billing_backoffice:refunds-export-again": Route(
        "backoffice", roles=FINANCE, method="post", kwargs=_billing("refund_export_kwargs")
    ),
    "billing_backoffice:collections": Route("backoffice", roles=FINANCE),
    "billing_backoffice:collections-propose": Route(
        "backoffice", roles=FINANCE, method="post", kwargs=_billing("eligible_invoice_kwargs")
    ),
    "billing_backoffice:collections-decide": Route(
        "backoffice",
        roles=FINANCE,
        method="post",
        kwargs=_billing("proposed_handover_kwargs"),
        data=lambda p: {"approve": "yes"},
    ),
    "billing_backoffice:collections-told": Route(
        "backoffice", roles=FINANCE, method="post", kwargs=_billing("paid_handover_kwargs")
    ),
    "billing_backoffice:collections-csv": Route(
        "backoffice",
        roles=FINANCE,
        kwargs=_billing("approved_handover_kwargs"),
        # The collector's file: the hand-over's case reveals what the collector gets.
        shows=frozenset(
            {"user.name", "user.contact.address", "user.contact.phone_number", "user.contact.email"}
        ),
    ),
    "billing_backoffice:collections-pdf": Route(
        "backoffice", roles=FINANCE, kwargs=_billing("approved_handover_kwargs")
    ),
    "billing_portal:reminder-pdf": Route("portal", kwargs=_billing("statutory_letter_kwargs")),
    # paying with iDEAL: a signed link that needs no login, and the provider's webhook
    "billing_pay:invoice": Route("token", kwargs=_billing("pay_link_kwargs")),
    "billing_pay:returned": Route("token", kwargs=_billing("pay_link_kwargs")),
    "billing_pay:webhook": Route("public", method="post", data=lambda p: {"id": "tr_Unknown123"}),
    # data-subject rights (kluis/rights)
    "rights:request": Route("public"),
    "rights:sent": Route("public"),
    "rights:confirm": Route("token", kwargs=_rights("confirm_kwargs")),
    "rights:id-upload": Route("token", kwargs=_rights("upload_kwargs")),
    "rights_portal:requests": Route("portal"),
    "rights_portal:request": Route("portal", kwargs=_rights("request_kwargs")),
    "rights_portal:export": Route("portal", kwargs=_rights("access_kwargs")),
    "rights_portal:erase": Route("portal"),
    "rights_portal:rectify": Route("portal"),
    "rights_backoffice:queue": Route("backoffice", roles=PRIVACY_OFFICER),
    "rights_backoffice:archive": Route("backoffice", roles=PRIVACY_OFFICER),
    "rights_backoffice:register": Route("backoffice", roles=PRIVACY_OFFICER),
    "rights_backoffice:request": Route(
        "backoffice", roles=PRIVACY_OFFICER, kwargs=_rights("request_kwargs")
    ),
    "rights_backoffice:respond": Route(
        "backoffice",
        roles=PRIVACY_OFFICER,
        method="post",
        kwargs=_rights("request_kwargs"),
        data=lambda p: {"note": "Verwerking beperkt."},
    ),
    "rights_backoffice:extend": Route(
        "backoffice",
        roles=PRIVACY_OFFICER,
        method="post",
        kwargs=_rights("request_kwargs"),
        data=lambda p: {"months": "1", "reason": "Veel gegevens bij elkaar te zoeken."},
    ),
    "rights_backoffice:ask-id": Route(
        "backoffice", roles=PRIVACY_OFFICER, method="post", kwargs=_rights("request_kwargs")
    ),
    "rights_backoffice:id-copy": Route(
        "backoffice", roles=PRIVACY_OFFICER, kwargs=_rights("id_copy_kwargs")
    ),
    "rights_backoffice:id-copy-image": Route(
        "backoffice", roles=PRIVACY_OFFICER, kwargs=_rights("id_copy_kwargs")
    ),
    "rights_backoffice:decide": Route(
        "backoffice",
        roles=PRIVACY_OFFICER,
        method="post",
        kwargs=_rights("id_copy_kwargs"),
        data=lambda p: {"verified": "yes", "customer_number": ""},
    ),
    "rights_backoffice:export": Route(
        "backoffice", roles=PRIVACY_OFFICER, kwargs=_rights("access_kwargs")
    ),
    "rights_backoffice:rectify": Route(
        "backoffice", roles=PRIVACY_OFFICER, kwargs=_rights("rectification_kwargs")
    ),
    "rights_backoffice:follow-up-done": Route(
        "backoffice", roles=PRIVACY_OFFICER, method="post", kwargs=_rights("follow_up_kwargs")
    ),
    "rights_backoffice:limit-end": Route(
        "backoffice", roles=PRIVACY_OFFICER, method="post", kwargs=_rights("limit_kwargs")
    ),
    "rights_backoffice:police": Route("backoffice", roles=PRIVACY_OFFICER),
    "rights_backoffice:police-request": Route(
        "backoffice", roles=PRIVACY_OFFICER, kwargs=_rights("police_kwargs")
    ),
    "rights_backoffice:police-decide": Route(
        "backoffice",
        roles=PRIVACY_OFFICER,
        method="post",
        kwargs=_rights("police_kwargs"),
        data=lambda p: {"approve": "yes", "categories": ["user.name"]},
    ),
    "rights_backoffice:police-answer": Route(
        "backoffice",
        roles=PRIVACY_OFFICER,
        method="post",
        kwargs=_approved_police,
    ),
    "rights_backoffice:police-confidentiality-end": Route(
        "backoffice",
        roles=PRIVACY_OFFICER,
        method="post",
        kwargs=_rights("confidential_police_kwargs"),
    ),
    # domains (builders in kluis/domains/testing.py)
    "domains_backoffice:desk": Route("backoffice", roles=frozenset({"orders"})),
    "domains_backoffice:retry": Route(
        "backoffice", roles=frozenset({"orders"}), method="post", kwargs=_failed_registration
    ),
    "domains_portal:domains": Route("portal"),
    "domains_portal:domain": Route("portal", kwargs=_registered_domain),
    "domains_portal:nameservers": Route(
        "portal",
        method="post",
        kwargs=_registered_domain,
        data=lambda p: {"nameservers": "ns1.voorbeeld.nl\nns2.voorbeeld.nl"},
    ),
    "domains_portal:auth-code": Route("portal", method="post", kwargs=_registered_domain),
    # sites (kluis/sites)
    "sites_portal:sites": Route("portal"),
    "sites_portal:site": Route("portal", kwargs=_sites("site_kwargs")),
    "sites_portal:entry-add": Route(
        "portal",
        method="post",
        kwargs=_sites("site_kwargs"),
        data=lambda p: {"network": "145.100.30.0/24", "label": "kantoor"},
    ),
    "sites_portal:entry-add-current": Route("portal", method="post", kwargs=_sites("site_kwargs")),
    "sites_portal:entry-remove": Route("portal", method="post", kwargs=_sites("entry_kwargs")),
    "sites_portal:grant-end": Route("portal", method="post", kwargs=_sites("grant_kwargs")),
    "sites_portal:help-requests": Route("portal"),
    "sites_portal:help-request-new": Route("portal"),
    "sites_portal:help-request": Route("portal", kwargs=_sites("help_request_kwargs")),
    "sites_portal:help-attach": Route(
        "portal",
        method="post",
        kwargs=_sites("help_request_kwargs"),
        data=lambda p: {"attachments": _text_file("fout.log", b"PHP Warning: regel 3\n")},
    ),
    "sites_portal:help-attachment": Route("portal", kwargs=_sites("attachment_kwargs")),
    "usage_portal:site": Route("portal", kwargs=_sites("site_kwargs")),
    "usage_portal:site-csv": Route("portal", kwargs=_sites("site_kwargs")),
    "usage_portal:mail": Route("portal"),
    "usage_portal:mail-csv": Route("portal"),
    "usage_portal:mailbox-add": Route(
        "portal",
        method="post",
        kwargs=_usage("package_kwargs"),
        data=lambda p: {"address": "info@alice-mail.nl"},
    ),
    "usage_portal:mailbox-remove": Route("portal", method="post", kwargs=_usage("mailbox_kwargs")),
    "usage_backoffice:site": Route("backoffice", roles=SUPPORT, kwargs=_sites("site_kwargs")),
    "usage_backoffice:mailboxes": Route(
        "backoffice",
        roles=SUPPORT,
        kwargs=_usage("customer_mailboxes_kwargs"),
        expect=_customer_number,
    ),
    "usage_backoffice:mailbox-reveal": Route(
        "backoffice",
        roles=SUPPORT,
        method="post",
        kwargs=_usage("backoffice_mailbox_kwargs"),
        data=lambda p: {"field": "address", "purpose": "answer_questions"},
    ),
    "usage_backoffice:mailbox-end": Route(
        "backoffice",
        roles=SUPPORT,
        method="post",
        kwargs=_usage("backoffice_mailbox_kwargs"),
        data=lambda p: {"on_request": "on"},
    ),
    "sites_backoffice:desk": Route("backoffice", roles=SITES_DESK),
    "sites_backoffice:site": Route(
        "backoffice", roles=frozenset({"orders"}), kwargs=_sites("site_kwargs")
    ),
    "sites_backoffice:site-port": Route(
        "backoffice",
        roles=frozenset({"orders"}),
        method="post",
        kwargs=_sites("site_kwargs"),
        data=lambda p: {"admin_port": "8443"},
    ),
    "sites_backoffice:site-node": Route(
        "backoffice",
        roles=frozenset({"orders"}),
        method="post",
        kwargs=_sites("site_kwargs"),
        data=lambda p: {"node": ""},
    ),
    "sites_backoffice:nodes": Route("backoffice", roles=frozenset({"orders"})),
    "sites_backoffice:node": Route(
        "backoffice", roles=frozenset({"orders"}), kwargs=_sites("node_kwargs")
    ),
    "sites_backoffice:node-switched": Route(
        "backoffice",
        roles=frozenset({"orders"}),
        method="post",
        kwargs=_sites("node_kwargs"),
        data=lambda p: {},
    ),
    "sites_backoffice:update-grant": Route(
        "backoffice", roles=SUPPORT, kwargs=_sites("site_kwargs")
    ),
    "sites_backoffice:site-status": Route(
        "backoffice",
        roles=frozenset({"orders", "finance"}),
        method="post",
        kwargs=_sites("site_kwargs"),
        data=lambda p: {"status": "live"},
    ),
    "sites_backoffice:help-desk": Route("backoffice", roles=SUPPORT),
    "sites_backoffice:help-request": Route(
        "backoffice", roles=SUPPORT, kwargs=_sites("help_request_kwargs")
    ),
    "sites_backoffice:help-answer": Route(
        "backoffice",
        roles=SUPPORT,
        method="post",
        kwargs=_sites("help_request_kwargs"),
        data=lambda p: {"body": "Dat hebben we opgelost."},
    ),
    "sites_backoffice:help-close": Route(
        "backoffice", roles=SUPPORT, method="post", kwargs=_sites("help_request_kwargs")
    ),
    "sites_backoffice:grant-open": Route(
        "backoffice",
        roles=SUPPORT,
        method="post",
        kwargs=_sites("help_request_kwargs"),
        data=lambda p: {"hours": "2"},
    ),
    "sites_backoffice:grant-end": Route(
        "backoffice", roles=SUPPORT, method="post", kwargs=_sites("grant_kwargs")
    ),
    "sites_backoffice:help-attachment": Route(
        "backoffice", roles=SUPPORT, kwargs=_sites("attachment_kwargs")
    ),
    # the REST API (kluis/api): its pages, then its operations
    "api-reference": Route("public"),
    "api-home": Route("public"),
    "api-tokens": Route("account"),
    "api-token-revoke": Route("account", method="post", kwargs=_api("token_kwargs")),
    "api-service-tokens": Route("backoffice", roles=frozenset({"admin"})),
    "api-service-token-revoke": Route(
        "backoffice", roles=frozenset({"admin"}), method="post", kwargs=_api("service_token_kwargs")
    ),
    "api:api-root": Route("public"),
    "api:openapi-json": Route("public"),
    "api:invoices": Route("api", scope="invoices:read"),
    "api:invoice": Route("api", scope="invoices:read", kwargs=_billing("invoice_kwargs")),
    "api:invoice-pdf": Route("api", scope="invoices:read", kwargs=_billing("invoice_kwargs")),
    "api:invoice-payments": Route("api", scope="invoices:read", kwargs=_billing("invoice_kwargs")),
    "api:invoice-pay-link": Route("api", scope="invoices:read", kwargs=_billing("invoice_kwargs")),
    "api:sites": Route("api", scope="sites:read"),
    "api:orders": Route("api", scope="orders:read"),
    "api:legal": Route("api", scope="orders:write"),
    "api:order-new": Route("api", scope="orders:write", method="post", data=_api("order_data")),
    "api:domains": Route("api", scope="domains:read"),
    "api:domain": Route("api", scope="domains:read", kwargs=_registered_domain),
    "api:domain-check": Route(
        "api",
        scope="domains:write",
        method="post",
        data=_domains("check_data"),
    ),
    # The two below reach the registry: kluis/api/tests/test_access.py starts the local
    # EPP server for them, and the domain is registered there for real.
    "api:domain-nameservers": Route(
        "api",
        scope="domains:write",
        method="put",
        kwargs=_domains("registered_at_registry_kwargs"),
        data=lambda p: {"nameservers": ["ns1.voorbeeld.nl", "ns2.voorbeeld.nl"]},
    ),
    "api:domain-auth-code": Route(
        "api",
        scope="domains:write",
        method="post",
        kwargs=_domains("registered_at_registry_kwargs"),
    ),
    "api:payments": Route("api", scope="invoices:read"),
    "api:help-requests": Route("api", scope="help:requests"),
    "api:help-request-new": Route(
        "api",
        scope="help:requests",
        method="post",
        data=lambda p: {"about": "account", "message": "Hoe zet ik tweestapsverificatie aan?"},
    ),
    "api:help-request": Route("api", scope="help:requests", kwargs=_sites("help_request_kwargs")),
    "api:help-request-reply": Route(
        "api",
        scope="help:requests",
        method="post",
        kwargs=_sites("help_request_kwargs"),
        data=lambda p: {"body": "Het werkt weer, dank je."},
    ),
    "api:help-request-close": Route(
        "api",
        scope="help:requests",
        method="post",
        kwargs=_sites("help_request_kwargs"),
        data=lambda p: {},
    ),
    "api:my-data": Route("api", scope="account:read"),
    "api:site-allowlist": Route("api", scope="sites:read", kwargs=_sites("site_kwargs")),
    "api:site-allowlist-add": Route(
        "api",
        scope="sites:allowlist",
        method="post",
        kwargs=_sites("site_kwargs"),
        data=lambda p: {"network": "145.100.10.9", "label": "kantoor"},
    ),
    "api:site-allowlist-add-current": Route(
        "api",
        scope="sites:allowlist",
        method="post",
        kwargs=_sites("site_kwargs"),
        data=lambda p: {"label": "hier"},
    ),
    "api:site-allowlist-remove": Route(
        "api", scope="sites:allowlist", method="delete", kwargs=_api("allow_entry_kwargs")
    ),
    "api:support-grants": Route("api", scope="sites:read"),
    "api:support-grant-end": Route(
        "api", scope="sites:allowlist", method="post", kwargs=_sites("grant_kwargs")
    ),
    "api:account": Route("api", scope="account:read"),
    "api:account-rectify": Route(
        "api", scope="account:write", method="patch", data=lambda p: {"address_city": "Utrecht"}
    ),
    "api:privacy-requests": Route("api", scope="account:read"),
    "api:privacy-request-new": Route(
        "api", scope="privacy:requests", method="post", data=lambda p: {"kind": "access"}
    ),
    "api:privacy-erasure": Route(
        "api", scope="privacy:erasure", method="post", data=lambda p: {"confirm": True}
    ),
    "api:node-firewall": Route("api", scope="firewall:read"),
    "api:node-logs": Route(
        "api",
        scope="logs:write",
        method="post",
        data=lambda p: {"batch_id": "b-1", "kind": "postfix", "lines": ["no log line"]},
    ),
    "api:staff-open-invoices": Route("api", scope="finance:read", roles=FINANCE),
    "api:staff-orders": Route("api", scope="orders:desk", roles=frozenset({"orders"})),
    "api:staff-order": Route(
        "api", scope="orders:desk", roles=frozenset({"orders"}), kwargs=_alice_order
    ),
    "api:staff-order-move": Route(
        "api",
        scope="orders:desk",
        roles=frozenset({"orders"}),
        method="post",
        kwargs=_alice_order,
        data=lambda p: {"status": "awaiting_payment"},
    ),
    "api:staff-customer-reveal": Route(
        "api",
        scope="customers:reveal",
        roles=CUSTOMER_ROLES,
        method="post",
        kwargs=_alice_customer,
        data=lambda p: {
            "field": "email",
            "purpose": "contract_administration",
            "case": f"order:{_alice_order(p)['order_id']}",
        },
    ),
}


# --- walking the URL configuration --------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    name: str  # "namespace:name", or "" for an unnamed pattern
    route: str
    arguments: tuple[str, ...]  # keyword arguments, and "#n" for positional groups
    callback: Callable[..., Any]

    def describe(self) -> str:
        return f"{self.name or '(unnamed)'} /{self.route}"


def url_patterns(urlconf: str | None = None) -> list[Pattern]:
    """Every URL pattern of the project, with its full route and all its arguments."""
    from django.urls import URLPattern, URLResolver, get_resolver

    found: list[Pattern] = []

    def arguments(pattern: Any) -> list[str]:
        regex = pattern.pattern.regex
        named = list(regex.groupindex)
        return named + [f"#{i}" for i in range(regex.groups - len(named))]

    def walk(patterns: Any, prefix: str, namespace: str, inherited: list[str]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                space = ":".join(s for s in (namespace, pattern.namespace or "") if s)
                walk(
                    pattern.url_patterns,
                    prefix + str(pattern.pattern),
                    space,
                    inherited + arguments(pattern),
                )
            elif isinstance(pattern, URLPattern):
                name = (
                    ":".join(s for s in (namespace, pattern.name or "") if s)
                    if pattern.name
                    else ""
                )
                found.append(
                    Pattern(
                        name=name,
                        route=prefix + str(pattern.pattern),
                        arguments=tuple(inherited + arguments(pattern)),
                        callback=pattern.callback,
                    )
                )

    walk(get_resolver(urlconf).url_patterns, "", "", [])
    return found
