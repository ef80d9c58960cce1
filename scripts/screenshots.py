"""The README's screenshots, taken from the demo in Chromium: `make screenshots`.

Serves the demo (which `make screenshots` has just set up in KLUIS_VAR_DIR) on a port of
its own, logs in with the demo logins that `demo_data` wrote, and writes each picture
to docs/ at desktop (1280x900) and phone (390x844) size, so they never drift from
what kluis looks like.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django_otp.oath import totp
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PORT = int(os.environ.get("KLUIS_SCREENSHOTS_PORT", "8766"))
BASE = f"http://127.0.0.1:{PORT}"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def logins() -> dict[str, tuple[str, str | None]]:
    text = (Path(os.environ["KLUIS_VAR_DIR"]) / "demo-logins.txt").read_text()
    found = {}
    for m in re.finditer(r"^\s+(\S+@\S+)\s+(\S+)(?:.*totp=(\S+))?", text, re.MULTILINE):
        found[m.group(1)] = (m.group(2), m.group(3))
    return found


def log_in(page: Page, email: str, password: str, secret: str | None) -> None:
    page.goto(BASE + "/account/inloggen/")
    page.locator("#id_email").fill(email)
    page.locator("#id_password").fill(password)
    page.locator("main button[type=submit]").click()
    if secret:
        page.wait_for_url("**/verificatie/**")
        code = totp(base64.b32decode(secret), step=30, t0=0, digits=6, drift=0)
        page.locator("#id_code").fill(f"{code:06d}")
        page.locator("main button[type=submit]").click()
    page.wait_for_load_state()


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(DOCS / f"{name}.png"))
    print(f"docs/{name}.png")


def main() -> None:
    server = subprocess.Popen(  # noqa: S603 (a fixed command: our own dev server)
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(60):
            try:
                urllib.request.urlopen(BASE + "/", timeout=2)  # noqa: S310 (our own server)
                break
            except OSError:
                time.sleep(0.5)
        people = logins()
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
            )
            for size, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
                context = browser.new_context(viewport=size, locale="nl-NL")
                page = context.new_page()
                page.goto(BASE + "/")
                shoot(page, f"home{suffix}")
                page.get_by_role("button", name="Nee, liever niet").click()
                page.goto(BASE + "/winkel/")
                shoot(page, f"catalogue{suffix}")
                page.locator('li[data-product="webwinkel-start"] button').click()
                page.goto(BASE + "/winkel/")
                page.locator("#id_label").fill("bakkerij-visser")
                page.locator("#id_tld").select_option("com")
                page.locator("form.domain button").click()
                page.goto(BASE + "/winkel/bestellen/")
                shoot(page, f"checkout{suffix}")
                page.goto(BASE + "/privacy/")
                shoot(page, f"privacy-statement{suffix}")
                password, _ = people["sanne@demo.winkeltjes.net"]
                log_in(page, "sanne@demo.winkeltjes.net", password, None)
                page.goto(BASE + "/portaal/")
                shoot(page, f"portal{suffix}")
                context.close()
                context = browser.new_context(viewport=size, locale="nl-NL")
                page = context.new_page()
                password, secret = people["finance@staff.winkeltjes.net"]
                log_in(page, "finance@staff.winkeltjes.net", password, secret)
                page.goto(BASE + "/backoffice/facturen/")
                shoot(page, f"finance-overview{suffix}")
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
