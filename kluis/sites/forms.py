from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.utils.translation import gettext_lazy as _

from kluis.sites.addresses import MAX_TEXT, parse_network
from kluis.sites.attachments import AttachmentsField
from kluis.sites.models import MAX_PORT, SHARED_PORTS, HelpRequest, Site


class HostSearchForm(forms.Form):
    """The desk's exact look-up of a site by one of its host names."""

    hostnaam = forms.CharField(
        label=_("Site met deze hostnaam"),
        max_length=253,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class AllowEntryForm(forms.Form):
    network = forms.CharField(
        label=_("IP-adres of reeks"),
        max_length=MAX_TEXT,
        help_text=_(
            "Bijvoorbeeld 203.0.113.7, 2001:db8:1234::/48 of 203.0.113.0/24. Een reeks is "
            "hoogstens /24 (IPv4) of /48 (IPv6)."
        ),
    )
    label = forms.CharField(
        label=_("Omschrijving"),
        max_length=80,
        required=False,
        help_text=_("Zodat je later weet welk adres dit is, bijvoorbeeld 'kantoor'."),
    )
    expires_at = forms.DateTimeField(
        label=_("Geldig tot"),
        required=False,
        help_text=_("Laat leeg om het adres te laten staan tot je het weghaalt."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d-%m-%Y %H:%M"],
    )

    def clean_network(self) -> str:
        parse_network(self.cleaned_data["network"])
        return str(self.cleaned_data["network"])


class HelpRequestForm(forms.Form):
    about = forms.ChoiceField(label=_("Waarover gaat je vraag?"), choices=HelpRequest.About.choices)
    site = forms.ModelChoiceField(
        label=_("Welke site?"), queryset=Site.objects.none(), required=False
    )
    message = forms.CharField(
        label=_("Je vraag"), max_length=5000, widget=forms.Textarea(attrs={"rows": 6})
    )
    attachments = AttachmentsField(required=False)

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["site"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = sites
        field.label_from_instance = lambda s: _("site %(number)s") % {"number": s.pk}  # type: ignore[method-assign,assignment]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("about") == HelpRequest.About.SITE and not data.get("site"):
            self.add_error("site", _("Kies de site waarover je vraag gaat."))
        return data


class GrantForm(forms.Form):
    hours = forms.IntegerField(
        label=_("Hoe lang (uren)"),
        min_value=1,
        max_value=8,
        initial=2,
        help_text=_("Hoogstens 8 uur; de klant kan de toegang eerder beëindigen."),
    )


class HelpReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Je reactie"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5})
    )


class HelpAnswerForm(forms.Form):
    body = forms.CharField(
        label=_("Antwoord (gaat per e-mail naar de klant)"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )


HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _host(name: str) -> str:
    try:
        ascii_name = name.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise forms.ValidationError(
            _("%(name)s is geen geldige hostnaam."), params={"name": name}
        ) from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2 or not all(HOST_LABEL.match(p) for p in labels):
        raise forms.ValidationError(_("%(name)s is geen geldige hostnaam."), params={"name": name})
    return ascii_name


class SiteForm(forms.Form):
    host_names = forms.CharField(
        label=_("Hostnamen"),
        max_length=1000,
        required=False,
        help_text=_("Gescheiden door spaties, bijvoorbeeld: winkel.nl www.winkel.nl"),
    )
    admin_url = forms.URLField(
        label=_("Adres van de beheeromgeving"),
        required=False,
        assume_scheme="https",
        help_text=_("Een https-adres op een van de hostnamen."),
    )

    def __init__(self, *args: Any, site: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site = site

    def clean_host_names(self) -> str:
        from kluis.sites.hosts import hosts_taken

        names = [_host(n) for n in self.cleaned_data["host_names"].replace(",", " ").split()]
        names = list(dict.fromkeys(names))
        if len(names) > 50:
            raise forms.ValidationError(_("Geef hoogstens 50 hostnamen."))
        if hosts_taken(names, besides=self.site):
            raise forms.ValidationError(_("Een van deze hostnamen hoort al bij een andere site."))
        return " ".join(names)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        url = data.get("admin_url")
        if url:
            parts = urlsplit(url)
            if parts.scheme != "https" or parts.hostname not in data.get("host_names", "").split():
                self.add_error("admin_url", _("Een https-adres op een van de hostnamen."))
        return data


PORT_RANGE = _("Een poort is een getal van 1 tot en met 65535.")


class SitePortForm(forms.Form):
    """The TCP port of the site's admin, for the firewall (not personal data: shown)."""

    admin_port = forms.IntegerField(
        label=_("Poort van de beheeromgeving"),
        required=False,
        min_value=1,
        max_value=MAX_PORT,
        error_messages={"invalid": PORT_RANGE, "min_value": PORT_RANGE, "max_value": PORT_RANGE},
        help_text=_(
            "Alleen als de beheeromgeving op een eigen TCP-poort luistert: de firewall "
            "laat die poort dan alleen open voor de adressen op de toegangslijst van deze "
            "site. Laat leeg voor een beheeromgeving achter de gewone https-poort."
        ),
    )

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site = site

    def clean_admin_port(self) -> int | None:
        port: int | None = self.cleaned_data["admin_port"]
        if port is None:
            return None
        if port in SHARED_PORTS:
            raise forms.ValidationError(
                _(
                    "Poort %(port)s delen alle sites voor hun website; een beheeromgeving "
                    "daarachter sluit nginx per site af, niet de firewall. Laat het veld "
                    "leeg, of geef de poort die alleen de beheeromgeving gebruikt."
                ),
                params={"port": port},
            )
        other = (
            Site.objects.filter(admin_port=port)
            .exclude(pk=self.site.pk)
            .exclude(status=Site.Status.ENDED)
            .values_list("pk", flat=True)
            .first()
        )
        if other is not None:
            raise forms.ValidationError(
                _("Poort %(port)s is al de poort van de beheeromgeving van site %(site)s."),
                params={"port": port, "site": other},
            )
        return port


class UpdateGrantForm(forms.Form):
    note = forms.CharField(
        label=_("Welke update"),
        max_length=200,
        help_text=_("Dit leest de klant in de aankondiging en in het portaal."),
    )
    starts_at = forms.DateTimeField(
        label=_("Begint op"),
        help_text=_("Minstens 24 uur vanaf nu: de klant krijgt nu een e-mail."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d-%m-%Y %H:%M"],
    )
    hours = forms.IntegerField(label=_("Hoe lang (uren)"), min_value=1, max_value=8, initial=2)
