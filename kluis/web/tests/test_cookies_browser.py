"""Every cookie kluis really sets is one the policy declares (R43, issue: cookies).

Chromium walks the public site (cart, language switch, contact), logs in as a
customer and walks the portal, then logs in as staff (password and TOTP) and walks the
back office. Whatever cookies the browser then holds are compared with the policy's
cookie list; before the visitor said yes, none that needs consent may be there.
"""

from __future__ import annotations

from django_otp.oath import totp

from conftest import browser_test
from kluis.policy.loader import current_policy
from kluis.shop.catalogue import catalogue_load
from kluis.testing import PASSWORD, totp_device

pytestmark = browser_test

PUBLIC = ["/", "/winkel/", "/winkel/mandje/", "/contact/", "/privacy/", "/cookies/"]
PORTAL = ["/portaal/", "/portaal/mijn-gegevens/", "/portaal/facturen/", "/account/instellingen/"]
BACKOFFICE = ["/backoffice/", "/backoffice/klanten/"]


def _names(context) -> set[str]:
    return {c["name"] for c in context.cookies()}


def _log_in(page, base: str, email: str, device=None) -> None:
    page.goto(base + "/account/inloggen/")
    page.locator("#id_email").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    if device is not None:
        page.wait_for_url("**/inloggen/verificatie/**")
        code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
        page.locator("#id_code").fill(f"{code:06d}")
        page.locator("main button[type=submit]").click()
    page.wait_for_load_state()


def test_every_cookie_set_anywhere_is_declared_and_none_needing_consent_comes_early(
    browser, live_server, personas
):
    catalogue_load()
    policy = {c.name: c for c in current_policy().cookies}
    context = browser.new_context(locale="nl-NL")
    context.set_default_timeout(15_000)
    page = context.new_page()
    base = live_server.url

    # A visitor who has not answered the cookie question yet.
    for path in PUBLIC:
        page.goto(base + path)
    page.goto(base + "/winkel/")
    page.locator('li[data-product="webwinkel-start"] button').click()
    page.locator("form.language button[value=en]").click()
    page.locator("form.language button[value=nl]").click()
    early = _names(context)
    assert early, "the walk set no cookie at all: it did not walk"
    assert not [n for n in early if n not in policy], f"undeclared: {early - set(policy)}"
    assert not [n for n in early if policy[n].needs_consent], f"before consent: {early}"

    # Yes to statistics, then a customer and a member of staff.
    page.goto(base + "/")
    page.get_by_role("button", name="Ja, dat mag").click()
    for path in PUBLIC:
        page.goto(base + path)
    _log_in(page, base, "alice@example.nl")
    for path in PORTAL:
        page.goto(base + path)
    page.locator("form.inline button.logout").click()
    staff = personas.staff["support"]
    _log_in(page, base, "support@winkeltjes.net", totp_device(staff))
    for path in BACKOFFICE:
        page.goto(base + path)

    names = _names(context)
    assert {"kluis_session", "csrftoken", "django_language", "kluis_consent"} <= names
    undeclared = sorted(names - set(policy))
    assert not undeclared, f"cookies kluis sets that the policy does not declare: {undeclared}"
    context.close()
