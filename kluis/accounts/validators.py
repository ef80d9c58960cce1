"""The one set of validators for what people type: names, addresses, postcodes,
phone numbers, free text, passwords.

Every form field that takes personal data runs through these, so bad input becomes a
form error; and every service that writes personal data runs `clean_person_fields`
again, so a caller that is not a form (a command, a later API) cannot store what a
form would refuse. Nothing here stores or logs the value.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# Bidirectional overrides, isolates and marks: they reorder what a reader sees
# ("Trojan Source"), so a name or address never needs them.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Scripts that legitimately mix within one name (Japanese writes Han with kana).
_COMPATIBLE = [frozenset({"CJK", "HIRAGANA", "KATAKANA"})]
TEMPLATE_SYNTAX = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
# A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection");
# names and addresses go into the collector's file and finance's exports.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# What a phone number may be written with: digits, spaces and + ( ) - . /
PHONE_CHARACTERS = re.compile(r"[0-9+()./ -]+")
# Lines and tabs belong in free text; no other control or format character does.
_TEXT_CONTROLS = frozenset("\n\r\t")
# Postcodes by country (the shop's countries); elsewhere letters, digits, space, hyphen.
POSTCODES = {
    "NL": re.compile(r"[1-9][0-9]{3} ?[A-Z]{2}"),
    "BE": re.compile(r"[1-9][0-9]{3}"),
    "LU": re.compile(r"(L-)?[0-9]{4}"),
    "DE": re.compile(r"[0-9]{5}"),
    "FR": re.compile(r"[0-9]{5}"),
    "AT": re.compile(r"[1-9][0-9]{3}"),
    "DK": re.compile(r"[0-9]{4}"),
}
POSTCODE_ANY = re.compile(r"[A-Z0-9][A-Z0-9 -]{1,9}")

MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
MAX_PHONE_LENGTH = 32


def validate_plain_text(value: str, *, allowed: frozenset[str] = frozenset()) -> None:
    """No NUL, no control or format characters (tabs and new lines included)."""
    for char in value:
        if char in allowed:
            continue
        if char in BIDI_CONTROLS:
            raise ValidationError(
                _("Tekens die de leesrichting omdraaien zijn hier niet toegestaan."),
                code="bidi",
            )
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise ValidationError(
                _("Onzichtbare tekens en stuurtekens zijn hier niet toegestaan."),
                code="control",
            )


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    first = name.split(" ", 1)[0]
    return first or None


def validate_single_script(value: str) -> None:
    """Letters of one writing system: "Jan" with a Cyrillic a (U+0430) is a spoof, not a name."""
    scripts = {s for s in (_script(c) for c in value) if s is not None}
    if len(scripts) <= 1 or any(scripts <= group for group in _COMPATIBLE):
        return
    raise ValidationError(
        _("Gebruik letters uit één schrift; deze naam mengt %(scripts)s.")
        % {"scripts": ", ".join(sorted(s.lower() for s in scripts))},
        code="mixed_script",
    )


def validate_no_template_syntax(value: str) -> None:
    if TEMPLATE_SYNTAX.search(value):
        raise ValidationError(
            _("Accolades en procenttekens zoals {{ of {% horen niet in een naam."),
            code="template_syntax",
        )


def validate_no_formula(value: str) -> None:
    if value.lstrip(" ").startswith(FORMULA_PREFIXES):
        raise ValidationError(
            _("Dit begint niet met =, +, - of @ (dan leest een spreadsheet het als formule)."),
            code="formula_prefix",
        )


def validate_name(value: str) -> None:
    validate_plain_text(value)
    validate_single_script(value)
    validate_no_template_syntax(value)
    validate_no_formula(value)


def validate_address(value: str) -> None:
    """A street with its number, or a place: the checks of a name."""
    validate_name(value)


def validate_free_text(value: str) -> None:
    """Several lines as typed (notes, questions): shown as typed, never interpreted.

    Lines and tabs are fine; direction overrides and other invisible characters are not.
    """
    validate_plain_text(value, allowed=_TEXT_CONTROLS)


def normalize_postcode(value: str, *, country: str = "NL") -> str:
    """The postcode in its usual form ("1234 AB"), or a ValidationError."""
    validate_plain_text(value)
    text = " ".join(value.upper().split())
    pattern = POSTCODES.get(country.upper(), POSTCODE_ANY)
    if not pattern.fullmatch(text):
        raise ValidationError(_("Dit is geen postcode."), code="postcode")
    if country.upper() == "NL":
        text = f"{text[:4]} {text[-2:]}"
    return text


def validate_email_address(value: str) -> None:
    validate_plain_text(value)
    if len(value) > MAX_EMAIL_LENGTH:
        raise ValidationError(_("Dit e-mailadres is te lang."), code="max_length")
    EmailValidator(message=_("Vul een geldig e-mailadres in."))(value)


def normalize_phone(value: str, *, region: str = "NL") -> str:
    """The number in E.164 form, or a ValidationError saying what is wrong.

    Only digits, spaces and + ( ) - . / are taken: phonenumbers itself would find a
    number inside "020 123 4567 <b>" and drop the rest.
    """
    validate_plain_text(value)
    if not PHONE_CHARACTERS.fullmatch(value.strip()):
        raise ValidationError(
            _("Dit is geen telefoonnummer. Schrijf bijvoorbeeld 020 123 4567 of +31 20 123 4567."),
            code="phone",
        )
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("Dit is geen telefoonnummer. Schrijf bijvoorbeeld 020 123 4567 of +31 20 123 4567."),
            code="phone",
        ) from None
    # A number written with its country code ("+32 3 123 45 67") that has the right
    # length for that country is accepted even where the number plan data does not
    # know its area yet: those tables lag behind what operators hand out.
    international = value.strip().startswith(("+", "00"))
    known = phonenumbers.is_valid_number(number) or (
        international
        and phonenumbers.is_possible_number_for_type(
            number, phonenumbers.PhoneNumberType.FIXED_LINE
        )
    )
    if not known:
        raise ValidationError(
            _("Dit telefoonnummer bestaat niet. Controleer het netnummer en het aantal cijfers."),
            code="phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_NAMES = ("name", "company_name", "requester_name")
_ADDRESSES = ("street", "address_street", "city", "address_city")
_POSTCODES = ("postcode", "address_postcode")
_EMAILS = ("email", "requester_email", "new_email")
_TEXTS = ("message", "notes")


def clean_person_fields(fields: dict[str, str], *, country: str = "NL") -> dict[str, str]:
    """Every personal field a service is about to write, checked and normalised.

    The same checks as the forms, by field name; an empty value stays empty. Raises
    one ValidationError naming every bad field. Services call this, so nothing can
    store a value a form would refuse.
    """
    cleaned: dict[str, str] = {}
    errors: dict[str, list[ValidationError]] = {}
    for name, value in fields.items():
        value = str(value or "")
        try:
            if not value.strip():
                cleaned[name] = ""
                continue
            if name in _NAMES:
                validate_name(value)
                cleaned[name] = value.strip()
            elif name in _ADDRESSES:
                validate_address(value)
                cleaned[name] = value.strip()
            elif name in _POSTCODES:
                cleaned[name] = normalize_postcode(value, country=country)
            elif name == "phone":
                cleaned[name] = normalize_phone(value, region=country if country else "NL")
            elif name in _EMAILS:
                validate_email_address(value.strip())
                cleaned[name] = value.strip()
            elif name in _TEXTS:
                validate_free_text(value)
                cleaned[name] = value
            else:
                raise ValueError(f"no validator for the field {name!r}")
        except ValidationError as exc:
            errors[name] = [exc]
    if errors:
        raise ValidationError(errors)
    return cleaned


class StaffMinimumLengthValidator:
    """Staff passwords open the back office: they need at least `min_length` characters."""

    def __init__(self, min_length: int = 15) -> None:
        self.min_length = min_length

    def validate(self, password: str, user: Any = None) -> None:
        if getattr(user, "is_staff_member", False) and len(password) < self.min_length:
            raise ValidationError(
                ngettext(
                    "Een wachtwoord van een medewerker heeft minstens %(min_length)d teken.",
                    "Een wachtwoord van een medewerker heeft minstens %(min_length)d tekens.",
                    self.min_length,
                )
                % {"min_length": self.min_length},
                code="staff_password_too_short",
            )

    def get_help_text(self) -> str:
        # The help text is shown to customers too (Django lists every validator's): a
        # customer's password rules say nothing about staff. Staff who choose a short
        # password get this validator's error, which says how long it must be.
        return ""
