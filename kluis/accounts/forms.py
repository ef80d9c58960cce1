"""Forms: where bad input becomes a clear error, before any service runs."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.core.validators import MaxLengthValidator
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from kluis.accounts.models import Customer, LegalForm, User
from kluis.accounts.passkeys import MAX_NAME_LENGTH as MAX_PASSKEY_NAME_LENGTH
from kluis.accounts.selectors import purposes_using
from kluis.accounts.validators import (
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PHONE_LENGTH,
    normalize_phone,
    validate_email_address,
    validate_name,
    validate_plain_text,
)
from kluis.accounts.webauthn import MAX_RESPONSE_BYTES
from kluis.policy.cases import Case
from kluis.policy.loader import current_policy
from kluis.policy.schema import ROLE_KEYS
from kluis.vault.fields import SealedModel, sealed_fields
from kluis.web.design import CheckboxGroup

MAX_PASSWORD_LENGTH = 1024


def _choices(form: forms.Form, name: str, choices: list[tuple[str, str]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


class EmailField(forms.CharField):
    """An email address: plain text, Django's EmailValidator, at most 254 characters."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("E-mailadres"))
        kwargs.setdefault("max_length", MAX_EMAIL_LENGTH)
        kwargs.setdefault("validators", [validate_email_address])
        kwargs.setdefault(
            "widget", forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
        )
        super().__init__(**kwargs)


class PasswordField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Wachtwoord"))
        kwargs.setdefault("strip", False)
        kwargs.setdefault("max_length", MAX_PASSWORD_LENGTH)
        kwargs.setdefault("widget", forms.PasswordInput(attrs={"autocomplete": "current-password"}))
        super().__init__(**kwargs)


class LoginForm(forms.Form):
    email = EmailField()
    password = PasswordField()


class MfaForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=16,
        validators=[validate_plain_text],
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_code(self) -> str:
        return "".join(str(self.cleaned_data["code"]).split())


class NameField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_NAME_LENGTH)
        kwargs.setdefault("validators", [validate_name])
        super().__init__(**kwargs)


class SignUpForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Ik meld me aan als"),
        choices=Customer.Kind.choices,
        initial=Customer.Kind.PERSON,
        widget=forms.RadioSelect,
    )
    name = NameField(label=_("Naam"), widget=forms.TextInput(attrs={"autocomplete": "name"}))
    company_name = NameField(
        label=_("Bedrijfsnaam"),
        required=False,
        help_text=_("Alleen als je je aanmeldt voor een organisatie."),
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    email = EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    phone = forms.CharField(
        label=_("Telefoonnummer"),
        required=False,
        max_length=MAX_PHONE_LENGTH,
        help_text=_("Niet verplicht. We bellen alleen als e-mail niet kan."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )

    def clean_phone(self) -> str:
        phone = str(self.cleaned_data.get("phone") or "")
        return normalize_phone(phone) if phone else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == Customer.Kind.ORGANISATION and not data.get("company_name"):
            self.add_error("company_name", _("Vul de naam van de organisatie in."))
        if data.get("kind") == Customer.Kind.PERSON:
            data["company_name"] = ""
        return data


def _limit_password_fields(form: forms.Form) -> None:
    for name, field in form.fields.items():
        if "password" in name:
            field.validators.append(MaxLengthValidator(MAX_PASSWORD_LENGTH))


class ChoosePasswordForm(SetPasswordForm):  # type: ignore[type-arg]
    """Activation and reset: the user picks their own password (twice)."""

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        _limit_password_fields(self)


class ChangePasswordForm(PasswordChangeForm):
    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        _limit_password_fields(self)


class PasswordResetForm(forms.Form):
    email = EmailField()


class EmailChangeForm(forms.Form):
    new_email = EmailField(label=_("Nieuw e-mailadres"))
    password = PasswordField(
        label=_("Je wachtwoord"), help_text=_("Ter bevestiging dat jij het bent.")
    )

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = str(self.cleaned_data["password"])
        if not self.user.check_password(password):
            raise forms.ValidationError(_("Dit wachtwoord klopt niet."), code="password")
        return password


class LegalFormForm(forms.Form):
    legal_form = forms.ChoiceField(
        label=_("Rechtsvorm van je organisatie"),
        choices=[("", _("(niet opgegeven)")), *LegalForm.choices],
        required=False,
        help_text=_(
            "Zoals ingeschreven bij de KvK. Voor een .nl-domeinnaam geven we hem door aan SIDN."
        ),
    )


class CustomerSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Klantnummer, e-mailadres, naam of btw-nummer"),
        max_length=MAX_EMAIL_LENGTH,
        validators=[validate_plain_text],
        help_text=_("Alleen een exacte overeenkomst wordt gevonden."),
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
    )


class RevealForm(forms.Form):
    """Which value, for which declared purpose.

    Any purpose that uses the value's category is accepted here; whether this staff
    member's roles allow it is the vault's decision, so a refusal is on record. The
    values are the customer's own fields; a subclass names another sealed model.
    """

    model: ClassVar[type[SealedModel]] = Customer

    field = forms.ChoiceField(label=_("Gegeven"), widget=forms.HiddenInput)
    purpose = forms.ChoiceField(label=_("Doel"))
    # The customer's open case the look serves, for purposes that need one. Any well-
    # formed case is accepted here: whether it is open and this customer's is the
    # vault's decision, so that a refusal is on record.
    case = forms.CharField(
        label=_("Voor welke bestelling, vraag of welk verzoek"), required=False, max_length=120
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "field", [(f.name, f.name) for f in sealed_fields(self.model)])
        _choices(self, "purpose", [(k, k) for k in current_policy().purposes])

    def as_row(
        self, name: str, purposes: list[tuple[str, str]], cases: list[tuple[str, str]]
    ) -> RevealForm:
        """This form as one sealed field's row shows it: that field's purposes for this
        member's roles and the customer's open cases to choose from, ids unique per row.
        What it accepts stays the same."""
        self.auto_id = f"reveal-{name}-%s"
        self.initial = {**self.initial, "field": name}
        self.fields["purpose"].widget.choices = purposes
        self.fields["case"].widget = forms.Select(choices=[("", _("geen dossier")), *cases])
        return self

    def clean_case(self) -> Case | None:
        text = str(self.cleaned_data.get("case") or "")
        if not text:
            return None
        try:
            return Case.parse(text)
        except ValueError:
            raise forms.ValidationError(_("Kies een dossier uit de lijst.")) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        name, purpose = data.get("field"), data.get("purpose")
        if name and purpose:
            field = self.model._meta.get_field(name)
            category = getattr(field, "category", "")
            if purpose not in purposes_using(category):
                self.add_error("purpose", _("Dit doel gebruikt dit gegeven niet."))
        return data


class StaffRolesForm(forms.Form):
    roles = forms.MultipleChoiceField(label=_("Rollen"), required=False, widget=CheckboxGroup)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        language = translation.get_language() or "nl"
        roles = current_policy().roles
        _choices(self, "roles", [(r, roles[r].label.get(language)) for r in ROLE_KEYS])


class StaffInviteForm(StaffRolesForm):
    name = forms.CharField(
        label=_("Naam"),
        max_length=80,
        help_text=_("Zo zien collega's deze medewerker, naast de rollen."),
    )
    email = EmailField()

    field_order = ["name", "email", "roles"]


class AccountChoiceForm(forms.Form):
    user = forms.UUIDField()


class RoleGrantDecideForm(forms.Form):
    # Two buttons on the page, name="approve" value="yes" or "no".
    approve = forms.TypedChoiceField(
        choices=[("yes", _("goedkeuren")), ("no", _("afwijzen"))], coerce=lambda v: v == "yes"
    )


class PasskeyResponseField(forms.CharField):
    """The browser's WebAuthn response, as JSON, filled in by accounts/passkeys.js."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_RESPONSE_BYTES)
        kwargs.setdefault("widget", forms.HiddenInput)
        required = _("Je browser gaf geen passkey door. Probeer het opnieuw.")
        kwargs.setdefault("error_messages", {"required": required})
        super().__init__(**kwargs)


class PasskeyRegisterForm(forms.Form):
    name = forms.CharField(
        label=_("Naam van de passkey"),
        max_length=MAX_PASSKEY_NAME_LENGTH,
        validators=[validate_plain_text],
        help_text=_("Zodat je hem later herkent, bijvoorbeeld “laptop” of “sleutelhanger”."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    credential = PasskeyResponseField()


class PasskeyLoginForm(forms.Form):
    credential = PasskeyResponseField()


class PasskeyRemoveForm(forms.Form):
    password = PasswordField(
        label=_("Je wachtwoord"), help_text=_("Ter bevestiging dat jij het bent.")
    )
