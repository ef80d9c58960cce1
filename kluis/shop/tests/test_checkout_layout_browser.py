"""The checkout on a phone and by keyboard only (issue: walk-through, accessibility).

At 390x844 the checkout with a .com domain, whose WHOIS/RDAP notice and consent text
once made the page 4,453 px wide, fits the screen and its legal text wraps; the fields
follow the chosen customer type without script; and the whole order can be placed with
the keyboard alone.
"""

from __future__ import annotations

from conftest import browser_test
from kluis.policy.enforce import Actor
from kluis.shop.catalogue import catalogue_load
from kluis.shop.domains import line_texts
from kluis.shop.models import Order

pytestmark = browser_test


def _checkout_with(browser, live_server, tld: str, *, width: int = 390, height: int = 844):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="nl-NL")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(live_server.url + "/winkel/")
    page.locator('li[data-product="webwinkel-start"] button').click()
    page.goto(live_server.url + "/winkel/")
    page.locator("#id_label").fill("visser")
    page.locator("#id_tld").select_option(tld)
    page.locator("form.domain button").click()
    page.goto(live_server.url + "/winkel/bestellen/")
    return page


def test_the_checkout_with_its_legal_texts_fits_a_phone(browser, live_server):
    catalogue_load()
    page = _checkout_with(browser, live_server, "com")
    assert page.locator("#whois-notice").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the checkout is {width}px wide on a 390px phone"
    # Every block of legal text wraps inside its box instead of running off the side.
    for box in page.locator("pre.document").all():
        scroll, client = box.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert scroll <= client, f"legal text runs {scroll - client}px past its box"
    label = page.locator('label[for="id_non_eu_consent"]')
    assert label.bounding_box()["width"] <= 390


def test_the_checkout_shows_the_fields_of_the_chosen_customer_type(browser, live_server):
    catalogue_load()
    page = _checkout_with(browser, live_server, "nl", width=1280, height=900)
    company = page.locator('[data-field="company_name"]')
    kvk = page.locator('[data-field="kvk_number"]')
    vat = page.locator('[data-field="vat_number"]')
    form = page.locator('[data-field="legal_form"]')
    assert not company.is_visible() and not kvk.is_visible() and not vat.is_visible()
    assert not form.is_visible()
    page.locator('input[name="kind"][value="organisation"]').check()
    assert company.is_visible() and kvk.is_visible() and not vat.is_visible()
    assert form.is_visible()
    page.locator("#id_country").select_option("BE")
    assert company.is_visible() and vat.is_visible() and not kvk.is_visible()
    assert not form.is_visible()


def _tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element is focused; fail if the keyboard cannot reach it."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with the Tab key")


def test_a_customer_orders_with_the_keyboard_alone(browser, live_server):
    catalogue_load()
    page = _checkout_with(browser, live_server, "nl", width=1280, height=900)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"  # skip link first
    for selector, text in (
        ("#id_name", "Eva Visser"),
        ("#id_street", "Lindengracht 12"),
        ("#id_postcode", "1015 KK"),
        ("#id_city", "Amsterdam"),
        ("#id_email", "eva@example.nl"),
        ("#id_phone", "+32 3 123 45 67"),
    ):
        _tab_to(page, selector)
        page.keyboard.type(text)
    _tab_to(page, "#id_accept")
    page.keyboard.press("Space")
    _tab_to(page, "form.checkout button:not(.logout)")
    page.keyboard.press("Enter")
    page.wait_for_url("**/winkel/bestellen/ontvangen/")
    order = Order.objects.get()
    assert [line.kind for line in order.lines.all()] == ["product", "domain"]
    owner = Actor.subject(order.customer_id)
    shown = line_texts(list(order.lines.all()), purpose="contract_administration", actor=owner)
    assert shown[1][1] == "visser.nl"
