"""Validators for what people type: names, addresses, phone numbers, passwords.

Every form field that takes free text runs through these, so bad input becomes a
form error before any service sees it. Nothing here stores or logs the value.
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

MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
MAX_PHONE_LENGTH = 32


def validate_plain_text(value: str) -> None:
    """No NUL, no control or format characters (tabs and new lines included)."""
    for char in value:
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


def validate_name(value: str) -> None:
    validate_plain_text(value)
    validate_single_script(value)
    validate_no_template_syntax(value)


def validate_email_address(value: str) -> None:
    validate_plain_text(value)
    if len(value) > MAX_EMAIL_LENGTH:
        raise ValidationError(_("Dit e-mailadres is te lang."), code="max_length")
    EmailValidator(message=_("Vul een geldig e-mailadres in."))(value)


def normalize_phone(value: str, *, region: str = "NL") -> str:
    """The number in E.164 form, or a ValidationError saying what is wrong."""
    validate_plain_text(value)
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
        return _("Medewerkers gebruiken minstens %(min_length)d tekens.") % {
            "min_length": self.min_length
        }
