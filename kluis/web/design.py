"""The design system's server side: the form renderer every Django form goes through.

`{{ form }}` renders an error summary (each error a link to its field) above the form
rows; each row has its label, then its hint, then its error, then the field, and the
field's aria-describedby names the hint and the error (Django builds that attribute from
the ids used here: `<id>_helptext`, `<id>_error`). `{{ form|compact }}` (kluis/web/
templatetags/ui.py) lays a small form out on one row, for a table cell or a search bar;
`CheckboxGroup` is the widget for a choice of several boxes. The templates are in
kluis/web/templates/web/forms/; the README's "Design" section shows how to use them.
"""

from __future__ import annotations

from django import forms
from django.forms.renderers import TemplatesSetting
from django.utils.safestring import SafeString

COMPACT_TEMPLATE = "web/forms/compact.html"


class KluisFormRenderer(TemplatesSetting):
    form_template_name = "web/forms/form.html"
    field_template_name = "web/forms/field.html"


class CheckboxGroup(forms.CheckboxSelectMultiple):
    """Several checkboxes, each before its own label, side by side while they fit."""

    template_name = "web/forms/checkbox_group.html"


def compact_render(form: forms.BaseForm, visible_labels: tuple[str, ...] = ()) -> SafeString:
    """The form on one row: labels for screen readers only, except `visible_labels`."""
    context = form.get_context()
    context["visible_labels"] = visible_labels
    return form.render(COMPACT_TEMPLATE, context=context)
