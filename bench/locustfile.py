"""Load on kluis as `make serve` runs it: visitors browsing and ordering, customers in
the portal, and the floor (/healthz, a bare Django view through the same server).

    make load            # make serve in the background, then this file headless

or by hand against a running `make serve`:

    .venv/bin/locust -f bench/locustfile.py --headless -u 10 -r 5 -t 60s \
        --host http://127.0.0.1:8001 --csv var/load/run

Customers log in with the demo logins in $KLUIS_VAR_DIR/demo-logins.txt (var/serve).
Every order placed is recorded in var/load/orders.txt so the run can be reconciled:
bench/load_check.py counts each order once, with one confirmation mail.

Cookies: with KLUIS_DEBUG=0 the session and CSRF cookies are Secure. Browsers send
Secure cookies to http://localhost and 127.0.0.1 (a secure context); Python's cookie
jar does not, so this file allows them for those two hosts only, as a browser would.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task

VAR = Path(os.environ.get("KLUIS_VAR_DIR", Path(__file__).resolve().parent.parent / "var/serve"))
LOAD_DIR = Path(os.environ.get("KLUIS_LOAD_DIR", VAR.parent / "load"))
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TOKEN = re.compile(r'name="token" value="([^"]+)"')
# Seconds a simulated person waits between pages (at most); 0 measures what the
# server holds flat out.
WAIT = float(os.environ.get("KLUIS_LOAD_WAIT", "2"))


LOCAL_HOSTS = {"127.0.0.1", "localhost", "127.0.0.1.local", "localhost.local"}


def _logins() -> list[tuple[str, str]]:
    path = VAR / "demo-logins.txt"
    logins = []
    customers = False
    for line in path.read_text().splitlines():
        if line.strip() == "Customers:":
            customers = True
            continue
        if customers and not line.strip():
            break
        if customers:
            email, password = line.split()
            logins.append((email, password))
    return logins


class _Base(HttpUser):
    abstract = True
    email = ""

    def on_start(self) -> None:
        # Requests merges the session's cookies into a fresh jar per request, so a
        # cookie policy does not stick: the Secure flag of local cookies is cleared
        # before each request instead.
        send = self.client.request

        def request(*args: Any, **kwargs: Any) -> Any:
            for cookie in self.client.cookies:
                if cookie.domain in LOCAL_HOSTS:
                    cookie.secure = False
            return send(*args, **kwargs)

        self.client.request = request  # type: ignore[method-assign]

    def _order(self, details: dict[str, str]) -> None:
        """Cart, checkout form, order. A placed order's reference goes to orders.txt;
        one refused by the limit of ten sign-ups an hour per address (all of locust
        comes from one address) goes to refused.txt: it must have made nothing."""
        page = self.client.get("/winkel/", name="page: shop").text
        self.client.post(
            "/winkel/mandje/pakket/",
            {"product": "webwinkel-start", "csrfmiddlewaretoken": self._csrf(page)},
            name="order: add to cart",
        )
        page = self.client.get("/winkel/bestellen/", name="order: checkout form").text
        token = TOKEN.search(page)
        if token is None:
            return
        data = {"csrfmiddlewaretoken": self._csrf(page), "token": token.group(1), "accept": "on"}
        with self.client.post(
            "/winkel/bestellen/",
            {**data, **details},
            name="order: place",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            refused = (
                response.status_code == 400
                and "Te veel bestellingen vanaf dit adres" in response.text
            )
            if refused:
                response.success()
            elif response.status_code != 302:
                response.failure(f"order not placed: {response.status_code}")
                return
        LOAD_DIR.mkdir(parents=True, exist_ok=True)
        name = "refused.txt" if refused else "orders.txt"
        with (LOAD_DIR / name).open("a") as handle:
            handle.write(f"{details.get('email') or self.email} {token.group(1)}\n")

    def _csrf(self, html: str) -> str:
        match = CSRF.search(html)
        assert match, "no CSRF token on the page"
        return match.group(1)


class Visitor(_Base):
    """Browses the site and the shop; now and then orders a package as a new customer."""

    weight = 6
    wait_time = between(WAIT / 4, WAIT)

    @task(4)
    def home(self) -> None:
        self.client.get("/", name="page: home")

    @task(4)
    def catalogue(self) -> None:
        self.client.get("/winkel/", name="page: shop")

    @task(2)
    def statement(self) -> None:
        self.client.get("/privacy/", name="page: privacy statement")

    @task(1)
    def order(self) -> None:
        self._order(
            {
                "kind": "person",
                "name": "Load Test",
                "street": "Lindengracht 12",
                "postcode": "1015 KK",
                "city": "Amsterdam",
                "country": "NL",
                "email": f"load-{uuid.uuid4().hex[:12]}@example.nl",
                "phone": "020 123 4567",
            }
        )


class Customer(_Base):
    """A logged-in customer reading the portal: home, invoices, my data."""

    weight = 3
    wait_time = between(WAIT / 4, WAIT)

    def on_start(self) -> None:
        super().on_start()
        logins = _logins()
        email, password = logins[hash(self) % len(logins)]
        self.email = email
        page = self.client.get("/account/inloggen/", name="login: form").text
        with self.client.post(
            "/account/inloggen/",
            {"email": email, "password": password, "csrfmiddlewaretoken": self._csrf(page)},
            name="login: post",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login refused: {response.status_code}")

    @task(3)
    def portal(self) -> None:
        self.client.get("/portaal/", name="portal: home")

    @task(2)
    def invoices(self) -> None:
        self.client.get("/portaal/facturen/", name="portal: invoices")

    @task(1)
    def order(self) -> None:
        self._order({})

    @task(1)
    def my_data(self) -> None:
        self.client.get("/portaal/mijn-gegevens/", name="portal: my data")


class Floor(_Base):
    """The floor: a bare Django view returning "ok" through the same server."""

    weight = 1
    wait_time = between(WAIT / 4, WAIT)

    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="floor: /healthz")
