"""Input of the billing pages, validated at the edge."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from kluis import uploads

MAX_STATEMENT_BYTES = 200 * 1024 * 1024


class StatementUploadForm(forms.Form):
    statement = forms.FileField(label=_("Bankafschrift (CAMT.053, XML of zip)"))

    def clean_statement(self) -> object:
        upload = self.cleaned_data["statement"]
        if upload.size > MAX_STATEMENT_BYTES:
            raise forms.ValidationError(_("Dit bestand is te groot."))
        # Too large to read whole: the upload module judges the head, the statement
        # reader the structure (schema-checked, no DTD, no entities).
        head = upload.read(64)
        upload.seek(0)
        try:
            uploads.check_head(head, accept=uploads.STATEMENTS)
        except uploads.UploadRefused as exc:
            raise forms.ValidationError(uploads.message(exc, accept=uploads.STATEMENTS)) from None
        return upload


class PaymentAssignForm(forms.Form):
    invoice_number = forms.CharField(
        label=_("Factuurnummer"),
        max_length=24,
        widget=forms.TextInput(attrs={"placeholder": "F2026-000001", "autocomplete": "off"}),
    )

    def clean_invoice_number(self) -> str:
        return str(self.cleaned_data["invoice_number"]).strip().upper()


class RefundPayeeForm(forms.Form):
    """The account to pay a refund back to, entered by finance (checked with schwifty)."""

    iban = forms.CharField(
        label=_("IBAN"),
        max_length=42,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    name = forms.CharField(
        label=_("Naam rekeninghouder"),
        max_length=70,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_iban(self) -> str:
        try:
            return str(IBAN(self.cleaned_data["iban"]).compact)
        except SchwiftyException:
            raise forms.ValidationError(
                _("Dit IBAN klopt niet: controleer het controlegetal en de lengte.")
            ) from None


class RefundRejectForm(forms.Form):
    """Why finance rejects a held approved refund."""

    reason = forms.CharField(
        label=_("Reden van afwijzen"),
        max_length=300,
        error_messages={
            "required": _("Geef een reden om de terugbetaling af te wijzen."),
            "max_length": _("De reden is te lang (hoogstens %(limit_value)d tekens)."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class RefundDecisionForm(forms.Form):
    approve = forms.TypedChoiceField(
        # Two buttons on the page, name="approve" value="yes" or "no".
        choices=[("yes", _("goedkeuren")), ("no", _("afwijzen"))],
        coerce=lambda v: v == "yes",
    )


class HandoverDecisionForm(forms.Form):
    approve = forms.TypedChoiceField(
        # Two buttons on the page, name="approve" value="yes" or "no".
        choices=[("yes", _("overdragen")), ("no", _("afwijzen"))],
        coerce=lambda v: v == "yes",
    )
