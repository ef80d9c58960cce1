"""Paying a demo invoice with iDEAL in Debian's Chromium, as in `make run`.

The demo data of `make run`; the local provider (kluis/billing/mollie_local.py) on a
free port, calling kluis's webhook over HTTP as the real provider does. Sanne logs in,
opens her invoice in the portal, pays it with iDEAL on the provider's checkout page,
comes back to "paid", her order has moved to "betaald", and her "Mijn gegevens" names
the payment provider as a recipient.
"""

from __future__ import annotations

import io

from django.core.management import call_command

from conftest import browser_test
from kluis.accounts.models import User
from kluis.billing.models import Invoice, Payment
from kluis.billing.mollie_local import serve
from kluis.shop.models import Order
from kluis.testing import PASSWORD

pytestmark = browser_test

KEY = "test_kluisbrowserprovider0000000000000"


def test_a_customer_pays_a_demo_invoice_with_ideal(browser, live_server, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("demo_data", stdout=io.StringIO())
    provider = serve(api_key=KEY)
    settings.KLUIS_MOLLIE_API_URL = provider.url
    settings.KLUIS_MOLLIE_CHECKOUT_ORIGIN = provider.url
    settings.KLUIS_MOLLIE_API_KEY = KEY
    settings.KLUIS_BASE_URL = live_server.url
    try:
        sanne = User.objects.get_by_email("sanne@demo.winkeltjes.net")
        assert sanne is not None and sanne.customer is not None
        sanne.set_password(PASSWORD)
        sanne.save(update_fields=["password"])
        invoice = Invoice.objects.get(customer=sanne.customer, order__isnull=False)
        assert not invoice.is_paid and invoice.order.status == Order.Status.AWAITING_PAYMENT
        problems: list[str] = []
        context = browser.new_context(locale="nl-NL")
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.on(
            "console",
            lambda m: problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None,
        )
        page.goto(live_server.url + "/portaal/facturen/")
        page.wait_for_url("**/account/inloggen/**")
        page.locator("#id_email").fill("sanne@demo.winkeltjes.net")
        page.locator("#id_password").fill(PASSWORD)
        page.get_by_role("button", name="Inloggen").click()
        page.wait_for_url("**/portaal/facturen/")
        row = page.locator(f'tr.invoice-pay[data-invoice="{invoice.number}"]')
        assert "NL91 ABNA 0417 1643 00" in row.inner_text()
        row.get_by_role("link", name="Betalen met iDEAL").click()
        page.get_by_role("button", name="Betalen met iDEAL").click()
        page.wait_for_url(f"{provider.url}/checkout/**")
        page.get_by_role("button", name="paid").click()
        page.wait_for_url("**/terug/")
        assert "De factuur is betaald." in page.locator("#pay-result").inner_text()
        assert [call.status for call in provider.state.webhook_calls] == [200]
        assert Invoice.objects.get(number=invoice.number).is_paid
        assert Order.objects.get(invoice__number=invoice.number).status == Order.Status.PAID
        assert Payment.objects.get(invoice=invoice).match == Payment.Match.ONLINE
        page.goto(live_server.url + "/portaal/mijn-gegevens/")
        assert "Mollie B.V." in page.content()
        assert problems == []
    finally:
        provider.stop()
