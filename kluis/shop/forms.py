"""Forms of the shop: where bad input becomes a clear error, before any service runs."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import idna
from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from stdnum import exceptions as stdnum_errors
from stdnum.eu import vat as eu_vat

from kluis import uploads
from kluis.accounts.forms import EmailField, NameField
from kluis.accounts.models import Customer, LegalForm
from kluis.accounts.validators import (
    MAX_PHONE_LENGTH,
    normalize_phone,
    normalize_postcode,
    validate_address,
    validate_free_text,
    validate_plain_text,
    validate_single_script,
)
from kluis.shop.models import MAX_PRICE_CENTS, DomainExtension, Product
from kluis.uploads import CleanFile

# EU member states by the country code of their VAT numbers (Greece is EL in VIES).
EU_COUNTRIES = {
    "AT": _("Oostenrijk"),
    "BE": _("België"),
    "BG": _("Bulgarije"),
    "CY": _("Cyprus"),
    "CZ": _("Tsjechië"),
    "DE": _("Duitsland"),
    "DK": _("Denemarken"),
    "EE": _("Estland"),
    "GR": _("Griekenland"),
    "ES": _("Spanje"),
    "FI": _("Finland"),
    "FR": _("Frankrijk"),
    "HR": _("Kroatië"),
    "HU": _("Hongarije"),
    "IE": _("Ierland"),
    "IT": _("Italië"),
    "LT": _("Litouwen"),
    "LU": _("Luxemburg"),
    "LV": _("Letland"),
    "MT": _("Malta"),
    "NL": _("Nederland"),
    "PL": _("Polen"),
    "PT": _("Portugal"),
    "RO": _("Roemenië"),
    "SE": _("Zweden"),
    "SI": _("Slovenië"),
    "SK": _("Slowakije"),
}
OTHER_COUNTRIES = {
    "GB": _("Verenigd Koninkrijk"),
    "CH": _("Zwitserland"),
    "NO": _("Noorwegen"),
    "US": _("Verenigde Staten"),
}
VAT_PREFIX = {"GR": "EL"}
KVK = re.compile(r"\d{8}")
DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
BAD_LABEL = _(
    "Gebruik letters, cijfers en streepjes (niet aan het begin of eind); letters als é of ü "
    "alleen waar de registry ze toestaat."
)
MAX_NOTES = 2000
MAX_ADDRESS = 200


def _choices(form: forms.Form, name: str, choices: list[tuple[str, Any]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def validate_vat_for(country: str, value: str) -> str:
    """The number without its prefix, or a ValidationError (format and checksum, stdnum)."""
    prefix = VAT_PREFIX.get(country, country)
    compact = "".join(value.split()).upper().replace(".", "").replace("-", "")
    if not compact.startswith(prefix):
        compact = prefix + compact
    try:
        eu_vat.validate(compact)
    except stdnum_errors.InvalidChecksum:
        raise ValidationError(
            _("Dit btw-nummer klopt niet: het controlegetal is fout."), code="vat_checksum"
        ) from None
    except stdnum_errors.ValidationError:
        raise ValidationError(
            _("Dit is geen geldig btw-nummer voor het gekozen land."), code="vat_format"
        ) from None
    return compact[len(prefix) :]


class AddProductForm(forms.Form):
    product = forms.SlugField(max_length=40)

    def clean_product(self) -> str:
        code = str(self.cleaned_data["product"])
        if not Product.objects.filter(code=code, active=True).exists():
            raise ValidationError(_("Dit pakket bestaat niet (meer)."))
        return code


def domain_shown(domain: str) -> str:
    """A name as a visitor typed it: é for xn--, where it decodes."""
    try:
        return idna.decode(domain)
    except (idna.IDNAError, UnicodeError, ValueError):
        return domain


class AddDomainForm(forms.Form):
    label = forms.CharField(label=_("Domeinnaam"), max_length=63)
    tld = forms.ChoiceField(label=_("Extensie"), initial="nl")  # most customers are Dutch
    # Only for a taken name the customer holds elsewhere: it is then transferred to us.
    auth_code = forms.CharField(
        label=_("Verhuiscode"),
        help_text=_(
            "Alleen als de naam al van jou is en je hem naar ons wilt verhuizen: de "
            "verhuiscode (autorisatiecode) die je huidige provider je geeft."
        ),
        max_length=64,
        required=False,
        strip=True,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(
            self, "tld", [(e.tld, f".{e.tld}") for e in DomainExtension.objects.filter(active=True)]
        )

    def clean_label(self) -> str:
        """The label as the registry gets it: an A-label (xn--...) for a name with accents."""
        label = str(self.cleaned_data["label"]).strip().lower()
        validate_plain_text(label)
        try:
            ascii_label = idna.encode(label, uts46=True).decode("ascii")
            unicode_label = idna.decode(ascii_label)
        except (idna.IDNAError, UnicodeError, ValueError):
            raise ValidationError(BAD_LABEL) from None
        if "." in ascii_label or not DOMAIN_LABEL.fullmatch(ascii_label):
            raise ValidationError(BAD_LABEL)
        if ascii_label[2:4] == "--" and not ascii_label.startswith("xn--"):
            raise ValidationError(BAD_LABEL)
        if ascii_label != unicode_label:
            validate_single_script(unicode_label)
        return ascii_label

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        label, tld = str(data.get("label") or ""), str(data.get("tld") or "")
        if label.startswith("xn--") and tld:
            extension = DomainExtension.objects.filter(tld=tld, active=True).first()
            if extension is not None and not extension.idn:
                self.add_error(
                    "label",
                    _(
                        "De registry van .%(tld)s registreert geen namen met letters als é of ü. "
                        "Kies een naam met alleen a-z, 0-9 en streepjes, of een andere extensie."
                    )
                    % {"tld": tld},
                )
        return data

    @property
    def domain(self) -> str:
        return f"{self.cleaned_data['label']}.{self.cleaned_data['tld']}"


class RemoveForm(forms.Form):
    item = forms.CharField(max_length=260)


class CheckoutForm(forms.Form):
    """What an order needs, and no more: the fields depend on the cart and the customer.

    For a logged-in customer the details come from their account; only what the
    order adds (a VAT number or KvK extract not on file, consent) is asked.
    """

    token = forms.CharField(widget=forms.HiddenInput, max_length=64)
    kind = forms.ChoiceField(
        label=_("Ik bestel als"),
        choices=Customer.Kind.choices,
        initial=Customer.Kind.PERSON,
        widget=forms.RadioSelect,
    )
    name = NameField(label=_("Naam"), widget=forms.TextInput(attrs={"autocomplete": "name"}))
    company_name = NameField(
        label=_("Bedrijfsnaam"),
        required=False,
        help_text=_("Alleen als je bestelt voor een bedrijf of organisatie."),
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    street = forms.CharField(
        label=_("Straat en huisnummer"),
        max_length=MAX_ADDRESS,
        validators=[validate_address],
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    postcode = forms.CharField(
        label=_("Postcode"),
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "postal-code"}),
    )
    city = forms.CharField(
        label=_("Plaats"),
        max_length=100,
        validators=[validate_address],
        widget=forms.TextInput(attrs={"autocomplete": "address-level2"}),
    )
    country = forms.ChoiceField(label=_("Land"), initial="NL")
    email = EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    phone = forms.CharField(
        label=_("Telefoonnummer"),
        max_length=MAX_PHONE_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    vat_number = forms.CharField(
        label=_("Btw-nummer"),
        required=False,
        max_length=20,
        help_text=_(
            "Alleen voor een bedrijf in een ander EU-land dan Nederland. We controleren het in "
            "VIES."
        ),
    )
    kvk_number = forms.CharField(
        label=_("KvK-nummer"),
        required=False,
        max_length=8,
        help_text=_(
            "Alleen voor een Nederlands bedrijf dat een domeinnaam registreert: 8 cijfers."
        ),
    )
    legal_form = forms.ChoiceField(
        label=_("Rechtsvorm"),
        required=False,
        choices=[("", _("Kies de rechtsvorm")), *LegalForm.choices],
        help_text=_(
            "Zoals in het Handelsregister. SIDN registreert een .nl-naam op je bedrijf met "
            "deze rechtsvorm en je KvK-nummer."
        ),
    )
    kvk_extract = forms.FileField(
        label=_("Uittreksel KvK"), required=False, help_text=_("PDF, PNG of JPEG, hoogstens 10 MB.")
    )
    notes = forms.CharField(
        label=_("Opmerkingen"),
        required=False,
        max_length=MAX_NOTES,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    non_eu_consent = forms.BooleanField(
        label=_(
            "Ik geef uitdrukkelijk toestemming om mijn gegevens voor de registratie door te "
            "geven aan de registry buiten de EU, en ik heb de melding over WHOIS/RDAP gelezen."
        ),
        required=False,
    )
    accept = forms.BooleanField(
        label=_("Ik accepteer de overeenkomst en de verwerkersovereenkomst."), required=True
    )
    # Consumers only; the label the consumer sees is the text of document "start_request"
    # (kept with its hash as evidence when ticked). See kluis/shop/consumer.py.
    start_now = forms.BooleanField(label=_("Verzoek om direct te beginnen"), required=False)

    PERSONAL = (
        "kind",
        "name",
        "company_name",
        "street",
        "postcode",
        "city",
        "country",
        "email",
        "phone",
    )

    def __init__(
        self,
        *args: Any,
        customer: Customer | None,
        has_domains: bool,
        has_non_eu: bool,
        non_eu_registries: str = "",
        asks_kvk_extract: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.has_domains = has_domains
        _choices(
            self,
            "country",
            [
                (c, n)
                for c, n in sorted(
                    {**EU_COUNTRIES, **OTHER_COUNTRIES}.items(), key=lambda i: str(i[1])
                )
            ],
        )
        if customer is not None:
            for name in self.PERSONAL:
                del self.fields[name]
            eu_business = (
                customer.kind == Customer.Kind.ORGANISATION
                and customer.country in EU_COUNTRIES
                and customer.country != "NL"
            )
            if not eu_business or customer.vat_number is not None:
                del self.fields["vat_number"]
            dutch_company = customer.kind == Customer.Kind.ORGANISATION and customer.country == "NL"
            if not (has_domains and dutch_company) or customer.kvk_number is not None:
                del self.fields["kvk_number"]
            if not (has_domains and dutch_company) or customer.legal_form:
                del self.fields["legal_form"]
            if not (has_domains and dutch_company and asks_kvk_extract):
                del self.fields["kvk_extract"]
            if customer.kind != Customer.Kind.PERSON:
                del self.fields["start_now"]
        elif not has_domains:
            del self.fields["kvk_number"]
            del self.fields["legal_form"]
            del self.fields["kvk_extract"]
        if not has_non_eu:
            del self.fields["non_eu_consent"]
        elif non_eu_registries:
            # The consent names the registries it is for, with their country.
            self.fields["non_eu_consent"].label = _(
                "Ik geef uitdrukkelijk toestemming om mijn gegevens voor de registratie door te "
                "geven aan %(registries)s, buiten de EU, en ik heb de melding over WHOIS/RDAP "
                "gelezen."
            ) % {"registries": non_eu_registries}

    def clean_phone(self) -> str:
        # A number without a country code is read as one of the customer's country,
        # else as a Dutch one (a Belgian business may well have a Dutch line).
        value, region = (
            str(self.cleaned_data["phone"]),
            str(self.cleaned_data.get("country") or "NL"),
        )
        if region != "NL":
            try:
                return normalize_phone(value, region=region)
            except ValidationError:
                pass
        return normalize_phone(value)

    def clean_notes(self) -> str:
        # Free text is kept and shown as typed (escaped in HTML, a value in PDFs and
        # mails, never template source); invisible and direction characters are refused.
        value = str(self.cleaned_data["notes"])
        validate_free_text(value)
        return value.strip()

    def clean_kvk_number(self) -> str:
        value = "".join(str(self.cleaned_data.get("kvk_number") or "").split())
        if value and not KVK.fullmatch(value):
            raise ValidationError(_("Een KvK-nummer heeft precies 8 cijfers."))
        return value

    def clean_kvk_extract(self) -> CleanFile | None:
        upload = self.cleaned_data.get("kvk_extract")
        if not upload:
            return None
        assert isinstance(upload, UploadedFile)
        if upload.size is not None and upload.size > uploads.MAX_BYTES:
            raise ValidationError(uploads.message(uploads.UploadRefused("too_large")))
        try:
            return uploads.clean_upload(upload.read(uploads.MAX_BYTES + 1))
        except uploads.UploadRefused as exc:
            raise ValidationError(uploads.message(exc)) from None

    # What this order needs, from the form (a new customer) or the account.
    def _kind(self, data: dict[str, Any]) -> str:
        return self.customer.kind if self.customer else str(data.get("kind") or "")

    def _country(self, data: dict[str, Any]) -> str:
        return self.customer.country if self.customer else str(data.get("country") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, country = self._kind(data), self._country(data)
        organisation = kind == Customer.Kind.ORGANISATION
        if "postcode" in self.fields and data.get("postcode"):
            try:
                data["postcode"] = normalize_postcode(str(data["postcode"]), country=country)
            except ValidationError as exc:
                self.add_error("postcode", exc)
        if self.customer is None:
            if organisation and not data.get("company_name"):
                self.add_error("company_name", _("Vul de naam van het bedrijf in."))
            if not organisation:
                data["company_name"] = ""
        if organisation:
            data["start_now"] = False
        # VAT number: only an EU business outside the Netherlands; ignored otherwise.
        if "vat_number" in self.fields:
            if organisation and country in EU_COUNTRIES and country != "NL":
                raw = str(data.get("vat_number") or "")
                if not raw:
                    self.add_error("vat_number", _("Vul het btw-nummer van je bedrijf in."))
                else:
                    try:
                        data["vat_number"] = validate_vat_for(country, raw)
                    except ValidationError as exc:
                        self.add_error("vat_number", exc)
            else:
                data["vat_number"] = ""
        # KvK: only a Dutch company that registers a domain; ignored otherwise.
        needs_kvk = self.has_domains and organisation and country == "NL"
        if "kvk_number" in self.fields:
            if needs_kvk and not data.get("kvk_number") and "kvk_number" not in self.errors:
                self.add_error("kvk_number", _("Vul het KvK-nummer van je bedrijf in."))
            if not needs_kvk:
                data["kvk_number"] = ""
        if "legal_form" in self.fields:
            if needs_kvk and not data.get("legal_form") and "legal_form" not in self.errors:
                self.add_error("legal_form", _("Kies de rechtsvorm van je bedrijf."))
            if not needs_kvk:
                data["legal_form"] = ""
        if "kvk_extract" in self.fields:
            if needs_kvk and not data.get("kvk_extract") and "kvk_extract" not in self.errors:
                self.add_error(
                    "kvk_extract", _("Upload een recent uittreksel uit het Handelsregister.")
                )
            if not needs_kvk:
                data["kvk_extract"] = None
        if "non_eu_consent" in self.fields and not data.get("non_eu_consent"):
            self.add_error(
                "non_eu_consent",
                _(
                    "Zonder je toestemming kunnen we een domeinnaam bij een registry buiten de "
                    "EU niet registreren. Geef toestemming of haal die domeinnaam uit je "
                    "winkelmandje."
                ),
            )
        return data


class DocumentsAcceptForm(forms.Form):
    accept = forms.BooleanField(
        label=_("Ik accepteer de nieuwe versies."),
        required=True,
        error_messages={"required": _("Vink aan dat je de nieuwe versies accepteert.")},
    )


class VatCheckByHandForm(forms.Form):
    valid = forms.TypedChoiceField(
        label=_("Uitkomst"),
        choices=[
            ("yes", _("het btw-nummer is geldig")),
            ("no", _("het btw-nummer is niet geldig")),
        ],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    method = forms.CharField(
        label=_("Hoe heb je het gecontroleerd?"),
        help_text=_(
            "Bijvoorbeeld: VIES-website met het raadplegingsnummer, of de belastingdienst van"
            " het land gebeld, met datum en naam."
        ),
        min_length=10,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class MoveForm(forms.Form):
    status = forms.ChoiceField(label=_("Nieuwe status"))

    def __init__(self, *args: Any, statuses: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "status", statuses)


class ProductForm(forms.ModelForm):  # type: ignore[type-arg]
    mailboxes = forms.IntegerField(
        label=_("Mailboxen in het pakket"),
        help_text=_("0 voor een pakket zonder e-mail."),
        required=False,
        min_value=0,
        max_value=1000,
    )

    class Meta:
        model = Product
        fields = [
            "code",
            "kind",
            "name_nl",
            "name_en",
            "description_nl",
            "description_en",
            "price_cents",
            "period",
            "mailboxes",
            "active",
            "position",
        ]

    def clean_mailboxes(self) -> int:
        return int(self.cleaned_data.get("mailboxes") or 0)

    def clean_name_nl(self) -> str:
        value = str(self.cleaned_data["name_nl"])
        validate_plain_text(value)
        return value


class ProductEditForm(ProductForm):
    """An existing package: its price changes only through a PriceChangeForm."""

    class Meta(ProductForm.Meta):
        fields = [f for f in ProductForm.Meta.fields if f != "price_cents"]


PRICE_ERRORS = {
    "max_value": _("Een prijs is hoogstens € 10.000,00 per periode."),
    "min_value": _("Een prijs kan niet negatief zijn."),
    "max_decimal_places": _("Geef de prijs in hele centen."),
}


class ExtensionForm(forms.ModelForm):  # type: ignore[type-arg]
    """An existing extension: its price changes only through a PriceChangeForm.

    The transfer price is set here and counts at once: it is paid once, by a new
    order's transfer, and no running subscription ever pays it again.
    """

    transfer_price = forms.DecimalField(
        label=_("Prijs van een verhuizing naar ons (euro, excl. btw)"),
        help_text=_(
            "Betaalt de eerste periode van een verhuisde domeinnaam; daarna verlengt die tegen"
            " de gewone prijs. Geldt meteen, alleen voor nieuwe bestellingen."
        ),
        min_value=Decimal("0"),
        max_value=Decimal(MAX_PRICE_CENTS) / 100,
        decimal_places=2,
        error_messages=PRICE_ERRORS,
    )

    class Meta:
        model = DomainExtension
        fields = ["period", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial.setdefault(
                "transfer_price", Decimal(self.instance.transfer_price_cents) / 100
            )

    def save(self, commit: bool = True) -> DomainExtension:
        extension: DomainExtension = super().save(commit=False)
        extension.transfer_price_cents = int(self.cleaned_data["transfer_price"] * 100)
        if commit:
            extension.save()
        return extension


class PriceChangeForm(forms.Form):
    new_price = forms.DecimalField(
        label=_("Nieuwe prijs per periode (euro, excl. btw)"),
        min_value=Decimal("0"),
        max_value=Decimal(MAX_PRICE_CENTS) / 100,
        decimal_places=2,
        error_messages=PRICE_ERRORS,
    )
    effective_on = forms.DateField(
        label=_("Gaat in op"),
        help_text=_(
            "Nieuwe klanten betalen de nieuwe prijs vanaf deze dag. Lopende abonnementen "
            "krijgen bericht; een verhoging geldt voor hen pas vanaf een periode die minstens "
            "een maand na dat bericht begint."
        ),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    @property
    def new_price_cents(self) -> int:
        return int(self.cleaned_data["new_price"] * 100)


class WithdrawForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Ik herroep deze bestelling. De diensten ervan stoppen vandaag."), required=True
    )


class PublicWithdrawForm(forms.Form):
    """The withdrawal function without a log-in (art. 6:230oa BW): which order, and the
    address it was placed with, so that only that address can finish it."""

    order_number = forms.CharField(
        label=_("Bestelnummer"),
        max_length=20,
        help_text=_("Staat in de bevestiging van je bestelling, bijvoorbeeld B2026-000123."),
    )
    email = forms.EmailField(
        label=_("E-mailadres waarmee je bestelde"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    confirm = forms.BooleanField(
        label=_("Ik herroep deze bestelling. De diensten ervan stoppen."), required=True
    )

    def clean_order_number(self) -> str:
        return "".join(str(self.cleaned_data["order_number"]).split()).upper()


class SubscriptionEndForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Ik begrijp dat de dienst stopt na de laatste periode die al is gefactureerd."),
        required=True,
        error_messages={"required": _("Vink aan dat je begrijpt dat de dienst stopt.")},
    )


class OrderFilterForm(forms.Form):
    """The orders desk lists the orders of one status, or all."""

    status = forms.ChoiceField(label=_("Status"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from kluis.shop.models import Order

        super().__init__(*args, **kwargs)
        field = self.fields["status"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("alle")), *Order.Status.choices]


class DomainSearchForm(forms.Form):
    """The back office finds a subscription by its exact domain name (blind index)."""

    domein = forms.CharField(
        label=_("Domeinnaam"),
        max_length=253,
        required=False,
        help_text=_("De hele naam met extensie, zoals voorbeeld.nl."),
    )
    running = forms.BooleanField(label=_("alleen wat wordt verlengd"), required=False)

    def clean_domein(self) -> str:
        value = str(self.cleaned_data["domein"]).strip().lower().rstrip(".")
        if not value:
            return ""
        validate_plain_text(value)
        try:
            name = idna.encode(value, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            raise ValidationError(BAD_DOMAIN) from None
        if "." not in name:
            raise ValidationError(BAD_DOMAIN)
        return name


BAD_DOMAIN = _("Vul een domeinnaam met extensie in, zoals voorbeeld.nl.")
