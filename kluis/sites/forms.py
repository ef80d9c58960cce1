from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from kluis.sites.addresses import MAX_TEXT, parse_network
from kluis.sites.attachments import AttachmentsField
from kluis.sites.models import MAX_PORT, NODE_NAME, SHARED_PORTS, HelpRequest, HostingNode, Site


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


def port_outside_message(node: HostingNode, port: int) -> str:
    return _(
        "Poort %(port)s ligt buiten de reeks van node %(node)s: kies een poort van "
        "%(first)s tot en met %(last)s."
    ) % {"port": port, "node": node.name, "first": node.port_first, "last": node.port_last}


def range_outside_message(ports: list[int]) -> str:
    return _(
        "Sites op deze node hebben poorten buiten die reeks (%(ports)s): geef hen eerst "
        "een andere poort."
    ) % {"ports": ", ".join(str(p) for p in ports[:10])}


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
        node = site.node
        if node is not None:
            from kluis.sites.nodes import next_free_port

            self.fields["admin_port"].help_text = _(
                "Een poort uit de reeks van node %(node)s: %(first)s tot en met %(last)s. "
                "De firewall van die node laat de poort alleen open voor de adressen op de "
                "toegangslijst van deze site. Laat leeg voor een beheeromgeving achter de "
                "gewone https-poort."
            ) % {"node": node.name, "first": node.port_first, "last": node.port_last}
            if not self.is_bound and site.admin_port is None:
                # The node's next free port, offered: orders staff need not look it up.
                self.initial["admin_port"] = next_free_port(node, besides=site)

    def clean_admin_port(self) -> int | None:
        from kluis.sites.nodes import port_owner

        port: int | None = self.cleaned_data["admin_port"]
        if port is None:
            return None
        node = self.site.node
        if node is not None and not node.holds(port):
            raise forms.ValidationError(port_outside_message(node, port))
        if port in SHARED_PORTS:
            raise forms.ValidationError(
                _(
                    "Poort %(port)s delen alle sites voor hun website; een beheeromgeving "
                    "daarachter sluit nginx per site af, niet de firewall. Laat het veld "
                    "leeg, of geef de poort die alleen de beheeromgeving gebruikt."
                ),
                params={"port": port},
            )
        other = port_owner(node, port, besides=self.site)
        if other is not None:
            raise forms.ValidationError(
                _("Poort %(port)s is al de poort van de beheeromgeving van site %(site)s."),
                params={"port": port, "site": other},
            )
        return port


class SiteNodeForm(forms.Form):
    """The hosting node a site lives on (orders staff, on the site's page)."""

    node = forms.ModelChoiceField(
        label=_("Hostingnode"),
        queryset=HostingNode.objects.none(),
        required=False,
        empty_label=_("geen node"),
        error_messages={"invalid_choice": _("Kies een node die in gebruik is.")},
        help_text=_(
            "Op een andere node krijgt de site een poort uit de reeks van die node: dezelfde "
            "als die daar vrij is, anders de eerste vrije. Op geen node houdt de site haar "
            "poort als geen andere site zonder node die heeft, anders vervalt die."
        ),
    )

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["node"]
        assert isinstance(field, forms.ModelChoiceField)
        # Active nodes, and the site's own even if it is no longer offered.
        field.queryset = HostingNode.objects.filter(
            models.Q(active=True) | models.Q(pk=site.node_id)
        )
        field.label_from_instance = lambda n: _(  # type: ignore[method-assign,assignment]
            "%(name)s (poorten %(first)s tot en met %(last)s)"
        ) % {"name": n.name, "first": n.port_first, "last": n.port_last}


_PORT_ERRORS = {"invalid": PORT_RANGE, "min_value": PORT_RANGE, "max_value": PORT_RANGE}


class HostingNodeForm(forms.ModelForm):  # type: ignore[type-arg]
    """A hosting node on the sites desk: its name (fixed once made) and its port range."""

    port_first = forms.IntegerField(
        label=_("Eerste beheerpoort"),
        min_value=1,
        max_value=MAX_PORT,
        error_messages=_PORT_ERRORS,
        help_text=_("De beheerpoorten van de sites op deze node komen uit deze reeks."),
    )
    port_last = forms.IntegerField(
        label=_("Laatste beheerpoort"),
        min_value=1,
        max_value=MAX_PORT,
        error_messages=_PORT_ERRORS,
    )

    switching = forms.BooleanField(
        label=_("Deze server laadt nu nog de bovenste map van de export"),
        required=False,
        initial=True,
        help_text=_(
            "Dan schrijft de export de sites van deze node ook in de bovenste map, tot je op "
            "de pagina van de node bevestigt dat de server zijn eigen map (nodes/<naam>/) "
            "en zijn eigen token gebruikt: zo blijft de firewall van de server hun "
            "beheerpoorten afsluiten terwijl je de sites op de node zet. Vink het alleen "
            "uit voor een nieuwe server die nooit de bovenste map heeft geladen."
        ),
    )

    class Meta:
        model = HostingNode
        fields = ["name", "port_first", "port_last", "active", "switching"]
        help_texts = {
            "name": _(
                "Zoals web01: kleine letters, cijfers en streepjes. De firewall-export "
                "schrijft de bestanden van deze node in nodes/<naam>/; de naam blijft."
            ),
            "active": _("Alleen een node die in gebruik is, kun je aan een site geven."),
        }
        error_messages = {"name": {"unique": _("Er is al een node met deze naam.")}}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["name"].disabled = True
            # Set when the node is made; ended by the confirmation on the node's page.
            del self.fields["switching"]

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if self.instance.pk:
            return str(self.instance.name)
        if not re.match(NODE_NAME, name):
            raise forms.ValidationError(
                _(
                    "Een nodenaam is 1 tot 32 kleine letters, cijfers en streepjes, zonder "
                    "streepje aan het begin of eind, zoals web01."
                )
            )
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("port_first"), data.get("port_last")
        if first is None or last is None:
            return data
        if first > last:
            self.add_error("port_last", _("De laatste poort mag niet lager zijn dan de eerste."))
            return data
        if self.instance.pk:
            from kluis.sites.nodes import ports_taken

            taken = ports_taken(self.instance, own=True)
            outside = sorted(p for p in taken if not first <= p <= last)
            if outside:
                self.add_error(None, range_outside_message(outside))
        return data


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
