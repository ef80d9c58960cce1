"""The issue's "done when", in Debian's Chromium through Playwright.

A visitor signs up, activates the account from the email, logs in, sets up TOTP and
sees "my data"; a staff member with MFA finds that customer and reveals their email
for a declared purpose; the customer then sees that look in "my data".
"""

from __future__ import annotations

import re

from django.core import mail
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import browser_test
from kluis.accounts.models import User
from kluis.testing import PASSWORD, make_staff, totp_device
from kluis.web.models import Question

CUSTOMER_PASSWORD = "mijn-eigen-lange-wachtwoord"

pytestmark = browser_test


def _link(live_server, message) -> str:
    match = re.search(r"https?://[^/\s]+(/\S+/)", message.body)
    assert match, message.body
    return live_server.url + match.group(1)


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_a_visitor_signs_up_activates_logs_in_sets_up_totp_and_staff_look_is_shown(
    browser, live_server, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    customer = browser.new_context(locale="nl-NL")
    customer.set_default_timeout(10_000)
    page = customer.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)

    page.goto(live_server.url + "/account/aanmelden/")
    page.locator("#id_name").fill("Eva Visser")
    page.locator("#id_email").fill("eva@example.nl")
    page.get_by_role("button", name="Account aanmaken").click()
    page.wait_for_url("**/aanmelden/verstuurd/")
    assert "Kijk in je mailbox" in page.content()

    [activation] = mail.outbox
    assert activation.to == ["eva@example.nl"]
    page.goto(_link(live_server, activation))
    page.locator("#id_new_password1").fill(CUSTOMER_PASSWORD)
    page.locator("#id_new_password2").fill(CUSTOMER_PASSWORD)
    page.get_by_role("button", name="Wachtwoord opslaan").click()
    page.wait_for_url("**/account/inloggen/")

    page.locator("#id_email").fill("eva@example.nl")
    page.locator("#id_password").fill(CUSTOMER_PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    page.wait_for_url("**/portaal/")

    page.goto(live_server.url + "/account/tweestapsverificatie/app/")
    assert page.locator("figure.qr svg").count() == 1
    user = User.objects.get_by_email("eva@example.nl")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    page.locator("#id_code").fill(_code(device))
    page.get_by_role("button", name="Bevestigen").click()
    assert page.locator("ul.codes li").count() == 10

    page.goto(live_server.url + "/portaal/mijn-gegevens/")
    assert page.get_by_text("eva@example.nl").first.is_visible()
    assert page.get_by_text("Nog geen medewerker heeft je gegevens ingezien.").is_visible()

    # A staff member with MFA finds Eva and reveals her email for a declared purpose.
    staff_user = make_staff(roles=["support"], email="steun@winkeltjes.net")
    staff_context = browser.new_context(locale="nl-NL")
    staff_context.set_default_timeout(10_000)
    staff = staff_context.new_page()
    staff.goto(live_server.url + "/backoffice/")
    staff.wait_for_url("**/account/inloggen/**")
    staff.locator("#id_email").fill("steun@winkeltjes.net")
    staff.locator("#id_password").fill(PASSWORD)
    staff.get_by_role("button", name="Inloggen").click()
    staff.wait_for_url("**/inloggen/verificatie/")
    staff.locator("#id_code").fill(_code(totp_device(staff_user)))
    staff.get_by_role("button", name="Bevestigen").click()
    staff.wait_for_url("**/backoffice/")
    staff.get_by_role("link", name="Klanten zoeken").click()
    staff.locator("#id_q").fill("eva@example.nl")
    staff.get_by_role("button", name="Zoeken").click()
    # Staff look only within a case of Eva's: here an open question she asked.
    question = Question(name="Eva Visser", email="eva@example.nl", message="Waar blijft mijn site?")
    question.reference = "V90001"
    question.save()
    staff.locator("ul.results a").first.click()
    assert "eva@example.nl" not in staff.content()
    row = staff.locator('tr[data-field="email"]')
    row.locator('select[name="purpose"]').select_option("contract_administration")
    row.locator('select[name="case"]').select_option(f"question:{question.pk}")
    row.get_by_role("button", name="Inzien").click()
    assert staff.locator('tr[data-field="email"] output').inner_text() == "eva@example.nl"

    # Eva sees that look.
    page.goto(live_server.url + "/portaal/mijn-gegevens/")
    looks = page.locator("table.reveals tbody tr")
    assert looks.count() == 1
    assert "een medewerker" in looks.inner_text()
    # No CSP violation or script error; a 404 only for the favicon the site has none of.
    assert [u for u in missing if not u.endswith("/favicon.ico")] == []
    assert len([e for e in errors if "404" not in e]) == 0, errors
