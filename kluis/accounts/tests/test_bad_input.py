"""Bad input gets a clear form error: no 500, no state change, no mail."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from kluis.accounts.models import Customer, User
from kluis.accounts.validators import validate_name
from kluis.audit.models import AuditEntry
from kluis.policy.enforce import Actor
from kluis.shop.testing import make_order
from kluis.testing import PASSWORD, log_in

pytestmark = pytest.mark.django_db(databases="__all__")

SYSTEM = Actor.system("test")

GOOD = {"kind": "person", "name": "Carla Smit", "email": "carla@example.nl", "phone": ""}
BAD_SIGNUPS = {
    "over-long name": ({"name": "a" * 201}, "name"),
    "over-long email": ({"email": "a" * 250 + "@example.nl"}, "email"),
    "NUL byte in name": ({"name": "Carla\x00Smit"}, "name"),
    "control character in name": ({"name": "Carla\x07Smit"}, "name"),
    "new line in name": ({"name": "Carla\nSmit"}, "name"),
    "bidi override in name": ({"name": "Carla \u202eabc"}, "name"),
    "zero-width joiner in name": ({"name": "Car\u200dla"}, "name"),
    "mixed Latin and Cyrillic": ({"name": "C\u0430rla Smit"}, "name"),
    "template syntax in name": ({"name": "{{7*7}}"}, "name"),
    "template tag in name": ({"name": "{% debug %}"}, "name"),
    "malformed email": ({"email": "carla@"}, "email"),
    "email without domain dot": ({"email": "carla example.nl"}, "email"),
    "NUL in email": ({"email": "carla\x00@example.nl"}, "email"),
    "malformed phone": ({"phone": "bel me maar"}, "phone"),
    "phone too short": ({"phone": "020 12"}, "phone"),
    "over-long phone": ({"phone": "0" * 40}, "phone"),
    "organisation without a name": ({"kind": "organisation", "company_name": ""}, "company_name"),
    "unknown kind": ({"kind": "robot"}, "kind"),
}


@pytest.mark.parametrize("case", BAD_SIGNUPS, ids=list(BAD_SIGNUPS))
def test_sign_up_refuses_bad_input_with_a_form_error(client, db, case):
    change, field = BAD_SIGNUPS[case]
    response = client.post(reverse("accounts:signup"), {**GOOD, **change})
    assert response.status_code == 200
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert not Customer.objects.exists() and not User.objects.exists() and mail.outbox == []


GOOD_NAMES = [
    "Zoë d'Ancona-Müller",
    "Ольга Петрова",
    "山田 太郎",
    "やまだ たろう",
    "Łukasz Żółw",
    "O'Brien & Zn.",
]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names_in_other_scripts_are_welcome(client, db, name):
    response = client.post(reverse("accounts:signup"), {**GOOD, "name": name})
    assert response.status_code == 302, response.context["form"].errors
    customer = Customer.objects.get()
    assert customer.name.reveal(purpose="account_management", actor=SYSTEM) == name
    validate_name(name)


def test_a_dutch_phone_number_is_stored_in_international_form(client, db):
    client.post(reverse("accounts:signup"), {**GOOD, "phone": "020 123 4567"})
    customer = Customer.objects.get()
    phone = customer.phone.reveal(
        purpose="contract_administration", actor=Actor.subject(customer.pk)
    )
    assert phone == "+31201234567"
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "data",
    [
        {"email": "a@b.nl\x00", "password": "x"},
        {"email": "a" * 300, "password": "x"},
        {"email": "not-an-email", "password": "x"},
        {"email": "alice@example.nl", "password": "x" * 5000},
        {"email": "", "password": ""},
    ],
)
def test_login_refuses_bad_input_without_touching_anything(client, personas, data):
    before = AuditEntry.objects.count()
    response = client.post(reverse("accounts:login"), data)
    assert response.status_code == 200 and response.context["form"].errors
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize("value", ["x\x00", "a" * 300, "\u202e", ""])
def test_back_office_search_refuses_bad_input(client, personas, value):
    log_in(client, personas.staff["support"])
    response = client.post(reverse("backoffice:customers"), {"q": value})
    assert response.status_code == 200 and response.context["form"].errors


def test_an_over_long_or_nul_password_is_refused_when_choosing_one(client, personas):
    log_in(client, personas.alice)
    for password in ["lang" * 300, "nul\x00-wachtwoord-x"]:
        response = client.post(
            reverse("accounts:password-change"),
            {"old_password": PASSWORD, "new_password1": password, "new_password2": password},
        )
        assert response.status_code == 200 and response.context["form"].errors
    assert User.objects.get(pk=personas.alice.pk).check_password(PASSWORD)


def test_template_syntax_in_a_valid_email_address_shows_literally_everywhere(client, personas):
    # "{{7*7}}@example.nl" is a valid address, so it is stored, mailed and shown as typed.
    client.post(reverse("accounts:signup"), {**GOOD, "email": "{{7*7}}@example.nl"})
    [message] = mail.outbox
    assert message.to == ["{{7*7}}@example.nl"]
    # "49" standing alone would be the template syntax evaluated; inside the random
    # link token it is just two characters.
    assert not re.search(r"(?<![\w-])49(?![\w-])", message.body)
    user = User.objects.get_by_email("{{7*7}}@example.nl")
    user.password = User.objects.get(pk=personas.alice.pk).password
    user.save()
    log_in(client, user)
    page = client.get(reverse("portal:my-data")).content.decode()
    assert "{{7*7}}@example.nl" in page and ">49@" not in page
    staff = client.__class__()
    log_in(staff, personas.staff["support"])
    url = reverse("backoffice:customer-reveal", kwargs={"customer_id": user.customer_id})
    assert user.customer is not None
    order = make_order(user.customer)
    page = staff.post(
        url, {"field": "email", "purpose": "contract_administration", "case": f"order:{order.pk}"}
    ).content.decode()
    assert "<output>{{7*7}}@example.nl</output>" in page


def test_html_in_a_name_is_escaped_in_pages_and_html_email(client, db):
    client.post(reverse("accounts:signup"), {**GOOD, "name": "Carla <b>Smit</b>"})
    [message] = mail.outbox
    assert isinstance(message, EmailMultiAlternatives)
    html = str(message.alternatives[0][0])
    assert "Carla &lt;b&gt;Smit&lt;/b&gt;" in html and "<b>Smit" not in html
    assert "Carla <b>Smit</b>" in message.body  # plain text shows it as typed


def test_the_customer_password_rules_say_nothing_about_staff(client, db):
    from django.contrib.auth.password_validation import password_validators_help_texts

    texts = " ".join(str(t) for t in password_validators_help_texts())
    assert "edewerker" not in texts and texts.strip()
