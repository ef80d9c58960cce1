"""The issue's "done when", in Debian's Chromium through Playwright.

A new visitor goes from the catalogue through a webshop package with a .nl domain to
the confirmation page; the outbox then delivers the confirmation to a real SMTP
server, with both PDFs and, for a consumer, the model withdrawal form. Before the
button that says ordering means paying, a consumer sees the withdrawal information
and the request to start at once; a business sees neither. The same flow with a .com
domain is refused without consent and accepted with it.
"""

from __future__ import annotations

from conftest import browser_test
from kluis.mail.delivery import deliver_due
from kluis.policy.enforce import Actor
from kluis.shop.catalogue import catalogue_load
from kluis.shop.domains import line_texts
from kluis.shop.models import Order

pytestmark = browser_test


def _visitor(browser, live_server, domain_label: str, tld: str):
    context = browser.new_context(locale="nl-NL")
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    # Script errors and CSP violations; a failed load (the favicon, our own 400) is not one.
    page.on(
        "console",
        lambda m: problems.append(m.text)
        if m.type == "error" and not m.text.startswith("Failed to load resource")
        else None,
    )
    page.goto(live_server.url + "/winkel/")
    page.locator('li[data-product="webwinkel-start"]').get_by_role(
        "button", name="In winkelmandje"
    ).click()
    page.wait_for_url("**/winkel/mandje/")
    page.goto(live_server.url + "/winkel/")
    page.locator("#id_label").fill(domain_label)
    page.locator("#id_tld").select_option(tld)
    page.get_by_role("button", name="Domeinnaam toevoegen").click()
    page.wait_for_url("**/winkel/mandje/")
    assert f"{domain_label}.{tld}" in page.content()
    page.get_by_role("link", name="Bestellen").click()
    page.wait_for_url("**/winkel/bestellen/")
    return page, problems


def _fill_details(page, *, name: str, email: str) -> None:
    page.locator("#id_name").fill(name)
    page.locator("#id_street").fill("Lindengracht 12")
    page.locator("#id_postcode").fill("1015 KK")
    page.locator("#id_city").fill("Amsterdam")
    page.locator("#id_email").fill(email)
    page.locator("#id_phone").fill("020 123 4567")
    page.locator("#id_notes").fill("{{ 7*7 }} =SUM(A1:A2)")
    page.locator("#id_accept").check()


def test_a_visitor_orders_a_webshop_with_a_nl_domain_and_gets_both_pdfs_by_mail(
    browser, live_server, smtp_settings
):
    catalogue_load()
    page, problems = _visitor(browser, live_server, "visser", "nl")
    assert page.locator("#id_non_eu_consent").count() == 0
    assert page.locator("#id_vat_number").count() == 1  # shown, used only for EU businesses
    _fill_details(page, name="Eva Visser", email="eva@example.nl")
    # A consumer (the default) sees the withdrawal information and the request.
    info = page.locator("#withdrawal-info")
    assert info.is_visible()
    assert "14 dagen zonder opgave van redenen" in info.inner_text()
    request = page.locator("#id_start_now")
    assert request.is_visible() and not request.is_checked()
    assert "Verzoek om direct te beginnen" in page.locator("#start-request").inner_text()
    assert page.get_by_role("button", name="Bestelling plaatsen").count() == 0
    request.check()
    page.get_by_role("button", name="Bestelling met betalingsverplichting").click()
    page.wait_for_url("**/winkel/bestellen/ontvangen/")
    order = Order.objects.get()
    assert order.number in page.content()
    assert [line.kind for line in order.lines.all()] == ["product", "domain"]
    owner = Actor.subject(order.customer_id)
    shown = line_texts(list(order.lines.all()), purpose="contract_administration", actor=owner)
    assert shown[1][1] == "visser.nl"
    assert order.consumer and order.start_now_requested

    assert deliver_due(worker="browser-test").sent == 1
    [confirmation] = [r for r in smtp_settings.received if order.number in r.message["Subject"]]
    assert confirmation.rcpt_tos == ["eva@example.nl"]
    assert "{{ 7*7 }} =SUM(A1:A2)" in confirmation.text
    files = confirmation.attachments()
    assert [(name, kind) for name, kind, _ in files] == [
        (f"overeenkomst-{order.number}.pdf", "application/pdf"),
        (f"verwerkersovereenkomst-{order.number}.pdf", "application/pdf"),
        (f"modelformulier-herroeping-{order.number}.pdf", "application/pdf"),
    ]
    assert all(content.startswith(b"%PDF-") for _, _, content in files)
    assert problems == []


def test_a_business_ordering_sees_no_withdrawal_parts_and_the_same_button(browser, live_server):
    catalogue_load()
    page, problems = _visitor(browser, live_server, "bakker", "nl")
    assert page.locator("#withdrawal-info").is_visible()
    page.locator('input[name="kind"][value="organisation"]').check()
    assert not page.locator("#withdrawal-info").is_visible()
    assert not page.locator("#id_start_now").is_visible()
    page.locator('input[name="kind"][value="person"]').check()
    assert page.locator("#withdrawal-info").is_visible()
    page.get_by_role("button", name="Bestelling met betalingsverplichting").wait_for()
    assert problems == []


def test_the_english_checkout_says_order_with_obligation_to_pay(browser, live_server):
    catalogue_load()
    page, problems = _visitor(browser, live_server, "visser", "nl")
    page.goto(live_server.url + "/winkel/bestellen/")
    page.evaluate("document.cookie = 'django_language=en; path=/'")
    page.reload()
    page.get_by_role("button", name="Order with obligation to pay").wait_for()
    assert "Request to start at once" in page.locator("#start-request").inner_text()
    assert problems == []


def test_a_com_domain_is_refused_without_consent_and_accepted_with_it(browser, live_server):
    catalogue_load()
    page, problems = _visitor(browser, live_server, "visser", "com")
    notice = page.locator("#whois-notice")
    assert "WHOIS/RDAP" in notice.inner_text() and "VeriSign, Inc." in notice.inner_text()
    _fill_details(page, name="Eva Visser", email="eva@example.nl")
    page.get_by_role("button", name="Bestelling met betalingsverplichting").click()
    assert "Zonder je toestemming" in page.locator("#id_non_eu_consent_error").inner_text()
    assert Order.objects.count() == 0

    # The form keeps what was typed except the checkboxes; tick both and send again.
    page.locator("#id_accept").check()
    page.locator("#id_non_eu_consent").check()
    page.get_by_role("button", name="Bestelling met betalingsverplichting").click()
    page.wait_for_url("**/winkel/bestellen/ontvangen/")
    order = Order.objects.get()
    assert order.non_eu_consent and order.whois_notice_version == "1.1"
    assert problems == []
