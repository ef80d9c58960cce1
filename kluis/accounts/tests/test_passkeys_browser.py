"""Passkeys in Debian's Chromium, with a virtual authenticator over the DevTools protocol.

The authenticator is Chromium's own (WebAuthn.addVirtualAuthenticator): the browser
runs the real ceremony, with the page's origin, against our static passkeys.js
under the real Content Security Policy. A customer and a new staff member each
register a passkey on their security page and then log in with it; the second
login goes through the same authenticator, so its signature counter has moved.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from conftest import browser_test
from kluis.accounts.models import Passkey, User
from kluis.testing import PASSWORD, make_customer, make_staff

pytestmark = browser_test


def _page(browser: Any) -> tuple[Any, Any, list[str], list[str]]:
    context = browser.new_context(locale="nl-NL")
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    return context, page, errors, missing


def _authenticator(page: Any) -> tuple[Any, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def _log_in(page: Any, url: str, email: str) -> None:
    page.goto(url + "/account/inloggen/")
    page.locator("#id_email").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()


def _clean(errors: list[str], missing: list[str]) -> None:
    assert [u for u in missing if not u.endswith("/favicon.ico")] == []
    assert [e for e in errors if "404" not in e] == [], errors


def _register_and_log_in_again(browser: Any, live_server: Any, email: str, home: str) -> None:
    context, page, errors, missing = _page(browser)
    cdp, authenticator_id = _authenticator(page)

    _log_in(page, live_server.url, email)
    if home == "/backoffice/":
        # Staff without a second step are sent to set one up; a passkey will do.
        page.wait_for_url("**/tweestapsverificatie/app/")
        page.get_by_role("link", name="Stel een passkey in").click()
    else:
        page.wait_for_url(f"**{home}")
        page.goto(live_server.url + "/account/tweestapsverificatie/passkeys/")
    assert page.get_by_text("Je hebt nog geen passkey ingesteld.").is_visible()
    page.locator("#id_name").fill("virtuele sleutel")
    button = page.get_by_role("button", name="Passkey toevoegen")
    assert button.is_enabled()  # passkeys.js ran and found WebAuthn
    button.click()
    # The first second step brings recovery codes.
    page.wait_for_selector("ul.codes li")
    assert page.locator("ul.codes li").count() == 10
    page.get_by_role("link", name="Verder").click()
    page.wait_for_url(f"**{home}")
    [credential] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})[
        "credentials"
    ]
    assert credential["rpId"] == "localhost"
    stored = Passkey.objects.get(user=User.objects.get_by_email(email))
    assert stored.sign_count == credential["signCount"]
    page.goto(live_server.url + "/account/tweestapsverificatie/passkeys/")
    assert page.get_by_role("cell", name="virtuele sleutel", exact=True).is_visible()
    _clean(errors, missing)
    context.clear_cookies()

    # A new login: password, then the passkey from the same authenticator.
    _log_in(page, live_server.url, email)
    page.wait_for_url("**/inloggen/verificatie/")
    page.get_by_role("button", name="Inloggen met je passkey").click()
    page.wait_for_url(f"**{home}")
    stored.refresh_from_db()
    assert stored.last_used_at is not None and stored.last_used_at <= timezone.now()
    after = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    assert stored.sign_count == after["credentials"][0]["signCount"] > credential["signCount"]
    page.goto(live_server.url + "/account/tweestapsverificatie/passkeys/")
    row = page.locator("table.passkeys tbody tr")
    assert row.count() == 1 and "nog niet" not in row.inner_text()
    _clean(errors, missing)
    context.close()


def test_a_customer_registers_a_passkey_and_logs_in_with_it(browser, live_server, settings):
    settings.KLUIS_BASE_URL = live_server.url
    make_customer(name="Pim Passkey", email="pim@example.nl")
    _register_and_log_in_again(browser, live_server, "pim@example.nl", "/portaal/")


def test_a_new_staff_member_sets_up_a_passkey_instead_of_an_app(browser, live_server, settings):
    settings.KLUIS_BASE_URL = live_server.url
    make_staff(roles=["support"], email="sleutel@winkeltjes.net", mfa=False)
    _register_and_log_in_again(browser, live_server, "sleutel@winkeltjes.net", "/backoffice/")
