"""Cookies and consent: functional cookies only until a yes, a banner that is no wall."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from kluis.policy.loader import current_policy
from kluis.testing import ROUTES
from kluis.web.consent import (
    CONSENT_COOKIE,
    STATS_COOKIE,
    ConsentMiddleware,
    cookie_max_age,
)

pytestmark = pytest.mark.django_db(databases="__all__")

PUBLIC_PAGES = sorted(
    n for n, r in ROUTES.items() if r.audience == "public" and r.method == "get" and not r.kwargs
)


def functional_cookies() -> set[str]:
    return {c.name for c in current_policy().cookies if not c.needs_consent}


def _set_cookies(response) -> set[str]:
    return {name for name, morsel in response.cookies.items() if morsel["max-age"] != 0}


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_a_first_visit_sets_only_functional_cookies(visitor, name):
    response = visitor.get(reverse(name))
    assert response.status_code in (200, 302)
    assert _set_cookies(response) <= functional_cookies(), name
    assert STATS_COOKIE not in response.cookies and CONSENT_COOKIE not in response.cookies


def test_the_banner_asks_yes_or_no_with_equal_weight_and_no_script(visitor):
    response = visitor.get(reverse("web:home"))
    page = response.content.decode()
    banner = page[page.index('class="cookie-banner"') : page.index("</section>")]
    assert 'value="yes"' in banner and 'value="no"' in banner
    yes = banner[banner.index('value="yes"') - 60 : banner.index('value="yes"')]
    no = banner[banner.index('value="no"') - 60 : banner.index('value="no"')]
    assert yes.split("<button")[-1] == no.split("<button")[-1]  # the same element, no style
    assert 'method="post"' in banner and reverse("web:cookies") in banner
    assert "<script" not in page and "style=" not in page and "<style" not in page
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    # Not a wall: the page itself is all there behind the question.
    assert "Webwinkels, websites en domeinnamen" in page


def test_refusing_blocks_nothing_and_never_sets_the_statistics_cookie(visitor, personas):
    response = visitor.post(
        reverse("web:cookies"), {"statistics": "no", "next": reverse("web:contact")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("web:contact")
    assert response.cookies[CONSENT_COOKIE].value == "no"
    assert STATS_COOKIE not in _set_cookies(response)
    for name in PUBLIC_PAGES:
        page = visitor.get(reverse(name))
        assert page.status_code in (200, 302), name
        assert 'class="cookie-banner"' not in page.content.decode()
        assert STATS_COOKIE not in _set_cookies(page)
    sent = visitor.post(
        reverse("web:contact"),
        {"name": "Jan Jansen", "email": "jan@example.nl", "message": "Een vraag"},
    )
    assert sent.status_code == 302  # the contact form works without consent
    assert visitor.get(reverse("accounts:login")).status_code == 200


def test_the_choice_lives_as_long_as_the_policy_says(visitor):
    response = visitor.post(reverse("web:cookies"), {"statistics": "yes"})
    morsel = response.cookies[CONSENT_COOKIE]
    assert morsel.value == "yes" and morsel["httponly"] and morsel["samesite"] == "Lax"
    assert 181 * 86400 <= morsel["max-age"] <= 184 * 86400  # "6 maanden"
    assert cookie_max_age(CONSENT_COOKIE, today=dt.date(2026, 1, 1)) == 181 * 86400


def test_the_choice_can_be_changed_from_the_page_in_the_footer(visitor):
    home = visitor.get(reverse("web:home")).content.decode()
    footer = home[home.index('<footer class="site">') :]
    assert reverse("web:cookies") in footer
    visitor.post(reverse("web:cookies"), {"statistics": "yes"})
    visitor.get(reverse("web:home"))
    assert STATS_COOKIE in visitor.cookies
    page = visitor.get(reverse("web:cookies")).content.decode()
    assert 'data-choice="yes"' in page
    withdrawn = visitor.post(reverse("web:cookies"), {"statistics": "no"})
    assert withdrawn.cookies[STATS_COOKIE]["max-age"] == 0  # removed from the browser
    assert 'data-choice="no"' in visitor.get(reverse("web:cookies")).content.decode()


def test_the_cookie_page_lists_what_the_policy_declares(visitor):
    page = visitor.get(reverse("web:cookies")).content.decode()
    for cookie in current_policy().cookies:
        assert f"<code>{cookie.name}</code>" in page


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "javascript:x"])
def test_the_choice_never_redirects_to_another_site(visitor, target):
    response = visitor.post(reverse("web:cookies"), {"statistics": "no", "next": target})
    assert response["Location"] == reverse("web:cookies")


def test_a_bad_choice_is_refused_and_records_nothing(visitor):
    response = visitor.post(reverse("web:cookies"), {"statistics": "maybe"})
    assert response.status_code == 400 and CONSENT_COOKIE not in response.cookies


def test_a_consent_cookie_set_without_consent_is_stripped():
    def sneaky_view(request):
        response = HttpResponse("ok")
        response.set_cookie(STATS_COOKIE, "tracker")
        return response

    middleware = ConsentMiddleware(sneaky_view)
    assert STATS_COOKIE not in middleware(RequestFactory().get("/")).cookies
    refused = RequestFactory().get("/")
    refused.COOKIES[CONSENT_COOKIE] = "no"
    assert STATS_COOKIE not in middleware(refused).cookies
    agreed = RequestFactory().get("/")
    agreed.COOKIES[CONSENT_COOKIE] = "yes"
    assert middleware(agreed).cookies[STATS_COOKIE].value == "tracker"
