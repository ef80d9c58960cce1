"""The billing issue's "done when", in Debian's Chromium through Playwright.

On the demo data of `make run`, a finance user imports the demo statement through
the upload form; a second finance user approves the refund of the overpayment and
downloads the pain.001, which validates against the ISO 20022 schema; the third
invoice goes from its reminders to a collections hand-over whose CSV holds the
customer's name, address, phone and email and the invoice, and nothing else.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from django.core.management import call_command
from django_otp.oath import totp
from lxml import etree  # type: ignore[import-untyped]

from conftest import browser_test
from kluis.accounts.models import User
from kluis.billing.models import Invoice
from kluis.shop.models import Order
from kluis.testing import PASSWORD, totp_device

pytestmark = browser_test


def _staff_page(browser, live_server, email: str, problems: list[str]):
    user = User.objects.get_by_email(email)
    assert user is not None
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    device = totp_device(user)
    context = browser.new_context(locale="nl-NL", accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on(
        "console",
        lambda m: problems.append(m.text)
        if m.type == "error" and not m.text.startswith("Failed to load resource")
        else None,
    )
    page.goto(live_server.url + "/backoffice/")
    page.wait_for_url("**/account/inloggen/**")
    page.locator("#id_email").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    page.wait_for_url("**/inloggen/verificatie/")
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    page.locator("#id_code").fill(f"{code:06d}")
    page.get_by_role("button", name="Bevestigen").click()
    page.wait_for_url("**/backoffice/")
    return page


def _download(page, click) -> bytes:
    with page.expect_download() as info:
        click()
    path = info.value.path()
    return Path(path).read_bytes()


def test_finance_imports_approves_a_refund_and_hands_an_invoice_to_collections(
    browser, live_server, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    call_command("demo_data", stdout=io.StringIO())
    unpaid, paid, overpaid = Invoice.objects.order_by("number")
    problems: list[str] = []

    first = _staff_page(browser, live_server, "finance@staff.winkeltjes.net", problems)
    first.get_by_role("link", name="Bankafschriften").click()
    first.locator("#id_statement").set_input_files(str(tmp_path / "demo" / "afschrift-demo.xml"))
    first.get_by_role("button", name="Inlezen").click()
    assert first.get_by_text("2 nieuwe betalingen ingelezen, 0 waren er al.").is_visible()
    paid.refresh_from_db()
    assert paid.is_paid and paid.order.status == Order.Status.PAID

    first.get_by_role("link", name="Terugbetalingen").click()
    row = first.locator("tr", has_text=overpaid.number)
    assert "€ 25,00" in row.inner_text()
    # the import proposed it in this user's name: a second user decides (four eyes)
    assert "voorgesteld" in row.inner_text()
    assert "Een andere medewerker keurt dit goed." in row.inner_text()
    assert row.get_by_role("button").count() == 0

    second = _staff_page(browser, live_server, "finance2@staff.winkeltjes.net", problems)
    second.get_by_role("link", name="Terugbetalingen").click()
    row = second.locator("tr", has_text=overpaid.number)
    row.get_by_role("button", name="Goedkeuren").click()
    assert "goedgekeurd" in second.locator("tr", has_text=overpaid.number).inner_text()
    pain = _download(
        second, second.get_by_role("button", name="Betaalbestand (pain.001) maken").click
    )
    schema = etree.XMLSchema(etree.parse(str(settings.KLUIS_ISO20022_DIR / "pain.001.001.03.xsd")))
    assert schema.validate(etree.fromstring(pain)), schema.error_log

    first.get_by_role("link", name="Herinneringen en incasso").click()
    row = first.locator("tr", has_text=unpaid.number).last
    assert "klaar voor incasso" in row.inner_text()
    row.get_by_role("button", name="Overdracht voorstellen").click()
    second.get_by_role("link", name="Herinneringen en incasso").click()
    row = second.locator("tr", has_text=unpaid.number).first
    row.get_by_role("button", name="Overdragen").click()
    row = second.locator("tr", has_text=unpaid.number).first
    handover = _download(second, row.get_by_role("link", name="CSV").click)
    rows = list(csv.reader(io.StringIO(handover.decode("utf-8-sig"))))
    assert len(rows) == 2
    values = dict(zip(rows[0], rows[1], strict=True))
    assert "Fatima El Amrani" in values.values()
    assert "fatima@demo.winkeltjes.net" in values.values()
    assert unpaid.number in values.values()
    assert unpaid.payment_reference not in handover.decode("utf-8-sig")
    assert problems == []
