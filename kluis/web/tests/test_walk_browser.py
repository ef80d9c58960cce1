"""A walk through every page, as a visitor, a customer and each staff role would take it.

Every GET page of the access-control harness's route list (kluis.testing.ROUTES) is
opened in Chromium at 1280x900 and at 390x844, by the audience allowed to open it:
- no page is wider than the window (no horizontal scroll);
- axe-core (vendored in ./axe, see PROVENANCE.md) finds no serious or critical
  violation of WCAG 2.1 A/AA.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Error as PlaywrightError

from conftest import browser_test
from kluis.shop.catalogue import catalogue_load
from kluis.testing import ROUTES, STAFF_ROLES, Personas, log_in

pytestmark = browser_test

AXE = (Path(__file__).parent / "axe" / "axe.min.js").read_text()
SIZES = [(1280, 900), (390, 844)]
AXE_RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
    // Every rule still runs; only the violations get their nodes' selectors worked
    // out (passes and incomplete results keep one node each), which is most of the time.
    resultTypes: ['violations'],
  });
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


def _pages(personas: Personas, audience: str, role: str | None = None) -> list[str]:
    urls = []
    for name, route in sorted(ROUTES.items()):
        if route.method != "get" or route.audience != audience:
            continue
        if role is not None and route.roles and role not in route.roles:
            continue
        kwargs = route.kwargs(personas) if route.kwargs else None
        urls.append(reverse(name, kwargs=kwargs))
    return urls


def _session_cookie(user: Any) -> str:
    client = Client()
    log_in(client, user)
    return client.cookies["kluis_session"].value


def _walk(browser, live_server, urls: list[str], session: str | None) -> list[str]:
    problems: list[str] = []
    for width, height in SIZES:
        # axe is injected by the test, so the page's own CSP must let it run.
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale="nl-NL", bypass_csp=True
        )
        context.set_default_timeout(15_000)
        if session:
            context.add_cookies(
                [{"name": "kluis_session", "value": session, "url": live_server.url}]
            )
        page = context.new_page()
        for url in urls:
            try:
                response = page.goto(live_server.url + url)
            except PlaywrightError as error:
                if "Download is starting" in error.message:
                    continue  # a PDF, a CSV: not a page
                raise
            if response is None or "text/html" not in (response.headers.get("content-type") or ""):
                continue  # a PDF or a download
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > width:
                problems.append(f"{url} at {width}px is {wide}px wide")
            page.evaluate(AXE)
            for violation in page.evaluate(AXE_RUN):
                problems.append(f"{url} at {width}px: {json.dumps(violation, ensure_ascii=False)}")
        context.close()
    return problems


@pytest.fixture
def shop(personas):
    catalogue_load()
    return personas


def test_the_public_site_fits_a_phone_and_has_no_serious_accessibility_violation(
    browser, live_server, shop
):
    problems = _walk(browser, live_server, _pages(shop, "public"), None)
    assert not problems, "\n".join(problems)


def test_the_portal_fits_a_phone_and_has_no_serious_accessibility_violation(
    browser, live_server, shop
):
    urls = _pages(shop, "portal") + _pages(shop, "account")
    # The account pages under /account/ are walked too, the passkey pages among them.
    assert reverse("accounts:passkeys") in urls
    assert any(
        url.startswith(reverse("accounts:passkeys")) and url != reverse("accounts:passkeys")
        for url in urls
    ), "the page that removes a passkey"
    problems = _walk(browser, live_server, urls, _session_cookie(shop.alice))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_each_back_office_role_fits_a_phone_and_has_no_serious_accessibility_violation(
    browser, live_server, shop, role
):
    urls = _pages(shop, "backoffice", role) + _pages(shop, "account")
    problems = _walk(browser, live_server, urls, _session_cookie(shop.staff[role]))
    assert not problems, "\n".join(problems)
