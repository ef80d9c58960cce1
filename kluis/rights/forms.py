"""Forms of the rights app: validate at the edge, so services get clean input."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from kluis import uploads
from kluis.accounts import validators
from kluis.accounts.forms import EmailField, NameField
from kluis.accounts.models import Customer
from kluis.formats import long_date
from kluis.policy.loader import current_policy
from kluis.rights.models import RightsRequest

PORTAL_KINDS = [
    (k, label) for k, label in RightsRequest.Kind.choices if k != RightsRequest.Kind.ERASURE
]


class PortalRequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("Wat wil je?"), choices=PORTAL_KINDS)


class PublicRequestForm(forms.Form):
    name = NameField(label=_("Je naam"))
    email = EmailField(label=_("Je e-mailadres"))
    kind = forms.ChoiceField(label=_("Wat wil je?"), choices=RightsRequest.Kind.choices)


class RegisterForm(PublicRequestForm):
    name = NameField(label=_("Naam"), required=False)
    email = EmailField(label=_("E-mailadres waarvan het verzoek kwam"))
    received_on = forms.DateField(
        label=_("Ontvangen op"), widget=forms.DateInput(attrs={"type": "date"})
    )
    customer_number = forms.CharField(
        label=_("Klantnummer, als bekend"), max_length=12, required=False
    )

    def clean_customer_number(self) -> Customer | None:
        number = self.cleaned_data["customer_number"].strip()
        if not number:
            return None
        customer = Customer.objects.filter(number=number).first()
        if customer is None:
            raise forms.ValidationError(_("Geen klant met dit nummer."))
        return customer


class RestrictionEndForm(forms.Form):
    """The day a restriction ends: at least the policy's notice days ahead (the service
    checks it again), so the person is told before it is lifted."""

    ends_on = forms.DateField(
        label=_("Laatste dag van de beperking"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from kluis.rights.limits import restriction_notice_days

        earliest = timezone.localdate() + dt.timedelta(days=restriction_notice_days())
        field = self.fields["ends_on"]
        field.initial = earliest
        field.widget.attrs["min"] = earliest.isoformat()
        field.help_text = _(
            "Op zijn vroegst %(date)s: de persoon krijgt %(days)s dagen vooraf bericht."
        ) % {"date": long_date(earliest), "days": restriction_notice_days()}


class ExtendForm(forms.Form):
    months = forms.TypedChoiceField(
        label=_("Verlengen met"), coerce=int, choices=[(1, _("1 maand")), (2, _("2 maanden"))]
    )
    reason = forms.CharField(
        label=_("Reden (die krijgt de verzoeker te lezen)"),
        min_length=10,
        max_length=1000,
        widget=forms.Textarea,
    )


class RespondForm(forms.Form):
    note = forms.CharField(
        label=_("Toelichting bij het antwoord"),
        max_length=2000,
        required=False,
        widget=forms.Textarea,
    )

    def __init__(self, *args: Any, kind: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kind == "objection":
            from kluis.rights.limits import objectionable_purposes

            policy = current_policy()
            language = translation.get_language() or "nl"
            self.fields["purposes"] = forms.MultipleChoiceField(
                label=_("Bezwaar toewijzen voor deze doelen (niets aangevinkt: afgewezen)"),
                required=False,
                widget=forms.CheckboxSelectMultiple,
                choices=[
                    (k, policy.purposes[k].label.get(language)) for k in objectionable_purposes()
                ],
            )


class DecideForm(forms.Form):
    verified = forms.TypedChoiceField(
        label=_("Besluit"),
        coerce=lambda v: v == "yes",
        choices=[("yes", _("identiteit vastgesteld")), ("no", _("niet vastgesteld"))],
    )
    customer_number = forms.CharField(
        label=_("Klantnummer van deze persoon"), max_length=12, required=False
    )

    def clean_customer_number(self) -> Customer | None:
        return RegisterForm.clean_customer_number(self)  # type: ignore[arg-type]


class IdUploadForm(forms.Form):
    document = forms.FileField(label=_("Kopie van je identiteitsbewijs (JPEG, PNG of PDF)"))
    bsn_masked = forms.BooleanField(label=_("Mijn BSN is doorgehaald"))
    photo_masked = forms.BooleanField(label=_("Mijn pasfoto is doorgehaald"))

    def clean_document(self) -> tuple[bytes, str]:
        upload: UploadedFile = self.cleaned_data["document"]
        if upload.size is not None and upload.size > uploads.MAX_BYTES:
            raise forms.ValidationError(uploads.message(uploads.UploadRefused("too_large")))
        try:
            # A PDF must hold a scan: the officer sees it drawn as an image, never the file.
            clean = uploads.clean_upload(
                upload.read(uploads.MAX_BYTES + 1), accept=uploads.DOCUMENTS, pdf_needs_image=True
            )
        except uploads.UploadRefused as exc:
            raise forms.ValidationError(uploads.message(exc)) from None
        return clean.content, clean.mimetype


class RectifyForm(forms.Form):
    name = forms.CharField(label=_("Naam"), max_length=200)
    company_name = forms.CharField(label=_("Bedrijfsnaam"), max_length=200, required=False)
    address_street = forms.CharField(
        label=_("Straat en huisnummer"), max_length=200, required=False
    )
    address_postcode = forms.CharField(label=_("Postcode"), max_length=12, required=False)
    address_city = forms.CharField(label=_("Plaats"), max_length=100, required=False)
    phone = forms.CharField(label=_("Telefoonnummer"), max_length=30, required=False)

    def __init__(self, *args: Any, country: str = "NL", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.country = country

    def clean(self) -> dict[str, Any]:
        # The same validators as sign-up and checkout, field by field.
        data = super().clean() or {}
        for key, value in list(data.items()):
            try:
                data.update(validators.clean_person_fields({key: value}, country=self.country))
            except ValidationError as exc:
                for message in exc.messages:
                    self.add_error(key, message)
        return data

    def changes(self) -> dict[str, str]:
        return {k: v for k, v in self.cleaned_data.items() if v != self.initial.get(k, "")}


def _police_categories() -> list[tuple[str, str]]:
    return _labelled(current_policy().recipients["police_justice"].categories)


def _labelled(keys: list[str]) -> list[tuple[str, str]]:
    policy = current_policy()
    language = translation.get_language() or "nl"
    return [(k, policy.categories[k].label.get(language)) for k in keys]


class PoliceForm(forms.Form):
    customer_number = forms.CharField(label=_("Klantnummer"), max_length=12)
    authority = forms.CharField(label=_("Verzoekende instantie"), max_length=200)
    legal_basis = forms.CharField(
        label=_("Wettelijke grondslag (bijv. art. 126nd Sv)"), max_length=200
    )
    order_reference = forms.CharField(label=_("Kenmerk van de vordering"), max_length=200)
    categories = forms.MultipleChoiceField(
        label=_("Gevraagde gegevens"), widget=forms.CheckboxSelectMultiple, choices=()
    )
    may_inform_subject = forms.BooleanField(
        label=_("We mogen de persoon erover informeren"), required=False
    )
    confidential_until = forms.DateField(
        label=_("Geheim tot (datum uit de vordering; leeg: tot we het opheffen)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["categories"].choices = _police_categories()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("may_inform_subject") and data.get("confidential_until"):
            self.add_error(
                "confidential_until",
                _("Een geheimhoudingsdatum past alleen bij een vordering die geheim is."),
            )
        return data

    def clean_customer_number(self) -> Customer:
        customer = RegisterForm.clean_customer_number(self)  # type: ignore[arg-type]
        if customer is None:
            raise forms.ValidationError(_("Geen klant met dit nummer."))
        return customer


class PoliceDecideForm(forms.Form):
    approve = forms.TypedChoiceField(
        label=_("Besluit"),
        coerce=lambda v: v == "yes",
        choices=[("yes", _("goedkeuren")), ("no", _("afwijzen"))],
    )
    categories = forms.MultipleChoiceField(
        label=_("Goedgekeurde gegevens"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=(),
    )

    def __init__(self, *args: Any, requested: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["categories"].choices = _labelled(requested)  # type: ignore[attr-defined]


class EraseConfirmForm(forms.Form):
    """The customer's own "yes" before their account and data are erased."""

    confirm = forms.BooleanField(
        label=_("Ik begrijp dat mijn account en mijn gegevens worden verwijderd."),
        error_messages={"required": _("Vink aan dat je dit begrijpt.")},
    )
