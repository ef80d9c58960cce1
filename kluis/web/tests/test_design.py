"""The design system: one stylesheet, served cache-busted; headers per area; forms with an
error summary and errors next to their fields; error pages in Dutch and English."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from kluis.formats import euro
from kluis.testing import ROUTES, log_in

PUBLIC_PAGES = sorted(
    n for n, r in ROUTES.items() if r.audience == "public" and r.method == "get" and not r.kwargs
)


def _stylesheet(html: str) -> str:
    [href] = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    return href


@pytest.mark.django_db(databases="__all__")
def test_the_stylesheet_has_a_hashed_name_and_is_served_for_a_year_by_the_app(visitor):
    href = _stylesheet(visitor.get(reverse("web:home")).content.decode())
    assert re.fullmatch(r"/static/web/kluis\.[0-9a-f]{12}\.css", href), href
    response = visitor.get(href)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    cache = response["Cache-Control"]
    assert "immutable" in cache and "max-age=315360000" in cache
    body = b"".join(response.streaming_content).decode()
    assert "--accent:" in body and ".error-summary" in body


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_public_pages_carry_no_inline_style_or_script_and_a_strict_csp(visitor, name):
    response = visitor.get(reverse(name), follow=True)
    html = response.content.decode()
    assert " style=" not in html and "<style" not in html, name
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), name
    csp = response["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "style-src 'self'" in csp


@pytest.mark.django_db(databases="__all__")
def test_the_public_header_offers_log_in_and_counts_the_cart(visitor):
    from kluis.shop.catalogue import catalogue_load

    catalogue_load()
    html = visitor.get(reverse("web:home")).content.decode()
    header = html[html.index('<header class="site-header">') : html.index("</header>")]
    assert f'href="{reverse("accounts:login")}"' in header
    assert f'href="{reverse("shop:cart")}"' in header
    assert '<span class="count">0<' in header
    visitor.post(reverse("shop:cart-add"), {"product": "webwinkel-start"})
    visitor.post(reverse("shop:cart-add-domain"), {"label": "bakker", "tld": "nl"})
    header = visitor.get(reverse("web:contact")).content.decode()
    assert '<span class="count">2<' in header


@pytest.mark.django_db(databases="__all__")
def test_the_portal_and_back_office_have_their_own_header_without_shop_menu_or_banner(personas):
    shop_menu = f'href="{reverse("shop:catalogue")}"'
    for user, url, area in (
        (personas.alice, reverse("portal:home"), "portal"),
        (personas.staff["support"], reverse("backoffice:home"), "backoffice"),
    ):
        client = Client()
        log_in(client, user)
        html = client.get(url).content.decode()
        assert f'<header class="site-header {area}">' in html
        assert shop_menu not in html
        assert "cookie-banner" not in html  # consent is still undecided for this client
        assert f'action="{reverse("accounts:logout")}"' in html
    # the public site asks the same undecided client
    assert "cookie-banner" in Client().get(reverse("web:home")).content.decode()


@pytest.mark.django_db(databases="__all__")
def test_a_failed_form_shows_a_summary_linking_to_each_field_and_the_error_beside_it(visitor):
    response = visitor.post(reverse("web:contact"), {"name": "", "email": "geen-adres"})
    html = response.content.decode()
    start = html.index('class="error-summary"')
    summary = html[start : html.index("</div>", start)]
    assert 'href="#id_email"' in summary and 'href="#id_message"' in summary
    # next to the field, and the field points at it for screen readers
    assert 'id="id_email_error"' in html
    email_input = re.search(r"<input[^>]*name=\"email\"[^>]*>", html)
    assert email_input is not None
    assert 'aria-invalid="true"' in email_input.group(0)
    assert "id_email_error" in email_input.group(0)  # aria-describedby
    # the label sits above the field, without a colon
    assert re.search(r'<label class="form-label" for="id_email">[^<:]+</label>', html)


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("language", ["nl", "en"])
def test_not_found_is_a_page_of_the_site_in_dutch_and_english(language):
    response = Client(headers={"accept-language": language}).get("/bestaat-niet/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Deze pagina bestaat niet" in html and "This page does not exist" in html
    assert '<link rel="stylesheet" href="/static/web/kluis.' in html
    assert "Traceback" not in html and "Request Method" not in html


@pytest.mark.django_db(databases="__all__")
def test_a_forbidden_page_says_so_in_the_design(personas):
    client = Client()
    log_in(client, personas.staff["support"])
    response = client.get(reverse("backoffice:staff"))  # admin only
    assert response.status_code == 403
    html = response.content.decode()
    assert "Je hebt geen toegang tot deze pagina" in html and "You do not have access" in html


@pytest.mark.django_db(databases="__all__")
def test_a_stale_form_gets_the_csrf_page_not_djangos(personas):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("web:contact"), {"name": "Jan", "email": "jan@example.nl"})
    html = response.content.decode()
    assert response.status_code == 403
    assert "Je formulier is verlopen" in html and "Your form has expired" in html
    assert "CSRF" not in html  # no developer's reason for the visitor


@pytest.mark.django_db(databases="__all__")
def test_a_bad_host_gets_the_400_page():
    response = Client().get("/", headers={"host": "evil.example"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Dit verzoek kunnen we niet verwerken" in html and "We cannot process" in html


@pytest.mark.django_db(databases="__all__")
@override_settings(ROOT_URLCONF="kluis.web.tests.urls_failing")
def test_a_fault_gets_the_500_page_without_details():
    client = Client(raise_request_exception=False)
    response = client.get("/kapot/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "Er ging bij ons iets mis" in html and "Something went wrong on our side" in html
    assert "a fault in a view" not in html and "RuntimeError" not in html
    assert '<link rel="stylesheet" href="/static/web/kluis.' in html


@pytest.mark.parametrize(
    ("cents", "language", "text"),
    [
        (123456, "nl", "€ 1.234,56"),
        (123456, "en", "€1,234.56"),
        (1995, "nl", "€ 19,95"),
        (1995, "en", "€19.95"),
        (5, "nl", "€ 0,05"),
        (-4000, "nl", "-€ 40,00"),
        (-4000, "en", "-€40.00"),
        (123456789, "nl", "€ 1.234.567,89"),
    ],
)
def test_amounts_are_written_as_each_language_writes_them(cents, language, text):
    assert euro(cents, language) == text
    with translation.override(language):
        assert euro(cents) == text


@pytest.mark.django_db(databases="__all__")
def test_the_english_shop_writes_english_amounts():
    from kluis.shop.catalogue import catalogue_load

    catalogue_load()
    client = Client(headers={"accept-language": "en"})
    html = client.get(reverse("shop:catalogue")).content.decode()
    # A visitor is shown consumer prices: 19.95 + 21 % VAT.
    assert "€24.14" in html and "€ 24,14" not in html


# No template lays out a visible field by hand: every field goes through the design
# system, `{{ form }}`, `{{ form.x.as_field_group }}` or, on one row, `{{ form|compact }}`
# (README "Design"). A template with its own <label>, <select>, <textarea> or visible
# <input> fails here, and so does one that renders a field's bare widget or label
# (`{{ form.x }}`, `{{ form.x.label_tag }}`) or Django's own layouts (`as_p`, …).
_FIELD = re.compile(
    r"<(label|select|textarea)\b|<input\b(?![^>]*type=\"hidden\")"
    r"|\.(as_p|as_table|as_ul|as_div|label_tag)\b"
    r"|{{ ?\w*form\.(?!token\b)\w+ ?}}"  # a bare widget; the checkout's hidden token aside
)


def test_forms_are_rendered_by_the_design_system_not_laid_out_by_hand():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found = set()
    for path in root.glob("*/templates/**/*.html"):
        name = path.as_posix().split("/templates/", 1)[1]
        if name.startswith(("web/forms/", "web/components/")):
            continue
        if _FIELD.search(path.read_text(encoding="utf-8")):
            found.add(name)
    assert not found, sorted(found)


def test_a_compact_form_is_one_row_with_labels_for_screen_readers_and_errors_beside():
    from django import forms

    from kluis.web.design import CheckboxGroup, compact_render

    class Search(forms.Form):
        label = forms.CharField(label="Domeinnaam", max_length=10)
        tld = forms.ChoiceField(label="Extensie", choices=[("nl", ".nl"), ("be", ".be")])
        kinds = forms.MultipleChoiceField(
            label="Soorten", choices=[("a", "Een"), ("b", "Twee")], widget=CheckboxGroup
        )
        token = forms.CharField(widget=forms.HiddenInput)

    form = Search({"label": "x" * 11, "tld": "be", "kinds": ["b"], "token": "t"}, auto_id="s-%s")
    html = str(compact_render(form, ("label",)))
    # the named field's label shows; the others are there for screen readers only
    assert '<label class="form-label" for="s-label">Domeinnaam</label>' in html
    assert '<label class="form-label visually-hidden" for="s-tld">Extensie</label>' in html
    assert '<legend class="form-label visually-hidden">Soorten</legend>' in html
    # the error sits in the field's own row, and the field points at it
    row = html[html.index('data-field="label"') : html.index('data-field="tld"')]
    assert 'id="s-label_error"' in row and 'aria-invalid="true"' in row
    # a checkbox group: each box before its own label, the chosen one ticked
    assert re.search(
        r'<div class="check"><input type="checkbox" name="kinds" value="b"[^>]*id="s-kinds_1"'
        r'[^>]*checked>\s*<label for="s-kinds_1">Twee</label></div>',
        html,
    ), html
    assert '<input type="hidden" name="token" value="t"' in html


@pytest.mark.django_db(databases="__all__")
def test_the_staff_page_has_a_checkbox_group_per_member_and_a_button_per_decision(personas):
    client = Client()
    log_in(client, personas.staff["admin"])
    html = client.get(reverse("backoffice:staff")).content.decode()
    finance = personas.staff["finance"]
    box = re.search(
        r'<input type="checkbox" name="roles" value="finance"'
        rf'[^>]*id="roles-{finance.pk}-roles_\d+"[^>]*>',
        html,
    )
    assert box is not None and "checked" in box.group(0)
    ids = re.findall(r'<input type="checkbox"[^>]*id="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # unique on the page, so each label names its box
    action = reverse("backoffice:staff-roles", kwargs={"user_id": finance.pk})
    assert f'<form class="form-compact" method="post" action="{action}">' in html
