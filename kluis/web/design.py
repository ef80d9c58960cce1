"""The design system's server side: the form renderer every Django form goes through.

`{{ form }}` renders an error summary (each error a link to its field) above the form
rows; each row has its label, then its hint, then its error, then the field, and the
field's aria-describedby names the hint and the error (Django builds that attribute from
the ids used here: `<id>_helptext`, `<id>_error`). The templates are in
kluis/web/templates/web/forms/; the README's "Design" section shows how to use them.
"""

from __future__ import annotations

from django.forms.renderers import TemplatesSetting


class KluisFormRenderer(TemplatesSetting):
    form_template_name = "web/forms/form.html"
    field_template_name = "web/forms/field.html"
