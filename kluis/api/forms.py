from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kluis.api.scopes import Holder, scopes_for
from kluis.api.tokens import MAX_DAYS, NAME_MAX
from kluis.sites.models import HostingNode


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Naam"),
        max_length=NAME_MAX,
        help_text=_(
            "Waarvoor je het token gebruikt, bijvoorbeeld 'boekhouding'. De naam staat niet "
            "versleuteld opgeslagen: zet er niets persoonlijks in."
        ),
    )
    scopes = forms.MultipleChoiceField(label=_("Bevoegdheden"), widget=forms.CheckboxSelectMultiple)
    days = forms.IntegerField(
        label=_("Geldig (dagen)"), min_value=1, max_value=MAX_DAYS, initial=90
    )

    def __init__(self, *args: Any, holder: Holder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = [  # type: ignore[attr-defined]
            (s.key, f"{s.key}: {s.label}") for s in scopes_for(holder)
        ]
        if holder == "service":
            # A hosting node's token reads that node's sites only.
            self.fields["node"] = forms.ModelChoiceField(
                label=_("Hostingnode"),
                queryset=HostingNode.objects.all(),
                required=False,
                empty_label=_("geen: de sites die op geen node staan"),
                error_messages={"invalid_choice": _("Kies een bestaande hostingnode.")},
                help_text=_(
                    "Het token van een hostingnode haalt alleen de toegangslijsten van de "
                    "sites op die node op."
                ),
            )
