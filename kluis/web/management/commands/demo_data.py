"""Demo customers and staff, sealed like real data.

Passwords (and the staff TOTP secrets) are generated here, at set-up, and written to
var/demo-logins.txt with mode 0600; nothing secret is kept in the repository.
Running it again changes nothing and prints the same logins.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from kluis.accounts.models import Contact, Customer, User
from kluis.audit.chain import audit_append
from kluis.billing.demo import billing_demo_load
from kluis.rights.demo import police_demo_load
from kluis.shop.catalogue import catalogue_load

DEMO_CUSTOMERS: list[dict[str, str]] = [
    {
        "number": "K000001",
        "kind": "person",
        "name": "Sanne de Vries",
        "email": "sanne@demo.winkeltjes.net",
        "phone": "+31 6 12345678",
        "address_street": "Prinsengracht 263",
        "address_postcode": "1016 GV",
        "address_city": "Amsterdam",
        "country": "NL",
    },
    {
        "number": "K000002",
        "kind": "organisation",
        "name": "Pieter Bakker",
        "company_name": "Bakkerij Bakker V.O.F.",
        "kvk_number": "12345678",
        "vat_number": "NL002455799B11",
        "email": "pieter@demo.winkeltjes.net",
        "phone": "+31 30 2345678",
        "address_street": "Oudegracht 12",
        "address_postcode": "3511 AB",
        "address_city": "Utrecht",
        "country": "NL",
    },
    {
        "number": "K000003",
        "kind": "organisation",
        "name": "Lotte Peeters",
        "company_name": "Peeters Webdesign BV",
        "vat_number": "BE0403019261",
        "email": "lotte@demo.winkeltjes.net",
        "phone": "+32 3 2345678",
        "address_street": "Meir 50",
        "address_postcode": "2000",
        "address_city": "Antwerpen",
        "country": "BE",
        "language": "nl",
    },
    {
        "number": "K000004",
        "kind": "person",
        "name": "Jonas Schmidt",
        "email": "jonas@demo.winkeltjes.net",
        "phone": "+49 30 1234567",
        "address_street": "Torstraße 1",
        "address_postcode": "10119",
        "address_city": "Berlin",
        "country": "DE",
        "language": "en",
    },
    {
        "number": "K000005",
        "kind": "person",
        "name": "Fatima El Amrani",
        "email": "fatima@demo.winkeltjes.net",
        "phone": "+31 10 3456789",
        "address_street": "Witte de Withstraat 20",
        "address_postcode": "3012 BR",
        "address_city": "Rotterdam",
        "country": "NL",
    },
]

DEMO_STAFF: list[tuple[str, list[str], str]] = [
    ("orders@staff.winkeltjes.net", ["orders"], "Ruben Smit"),
    ("finance@staff.winkeltjes.net", ["finance"], "Sanne de Boer"),
    ("finance2@staff.winkeltjes.net", ["finance"], "Yusuf Demir"),
    ("support@staff.winkeltjes.net", ["support"], "Lotte Visser"),
    ("privacy@staff.winkeltjes.net", ["privacy_officer"], "Emma Bakker"),
    ("privacy2@staff.winkeltjes.net", ["privacy_officer"], "Daan Mulder"),
    ("admin@staff.winkeltjes.net", ["admin"], "Noor Hendriks"),
]


def _password() -> str:
    # 20 random letters (94 bits) in groups of five, easy to type in a demo.
    letters = "abcdefghijklmnopqrstuvwxyz"
    return "-".join("".join(secrets.choice(letters) for _ in range(5)) for _ in range(4))


class Command(BaseCommand):
    help = "Load demo customers and staff users (idempotent); print their logins."

    def handle(self, *args: Any, **options: Any) -> None:
        catalogue_load()  # idempotent; prices edited in the back office are kept
        logins_file = Path(settings.VAR_DIR) / "demo-logins.txt"
        if Customer.objects.filter(number="K000001").exists() and logins_file.exists():
            self.stdout.write(logins_file.read_text())
            return
        lines = self._load()
        fd = os.open(logins_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        self.stdout.write("\n".join(lines))

    @transaction.atomic
    def _load(self) -> list[str]:
        lines = ["Demo logins (also in var/demo-logins.txt):", "", "Customers:"]
        for values in DEMO_CUSTOMERS:
            customer = Customer(**values)
            customer.save()
            password = _password()
            User.objects.create_customer_user(
                customer=customer, email=values["email"], password=password
            )
            if values["kind"] == "organisation":
                Contact.objects.create(
                    customer=customer,
                    name=values["name"],
                    email=values["email"],
                    phone=values["phone"],
                )
            lines.append(f"  {values['email']:36} {password}")
        lines += [
            "",
            "Staff (MFA: add the TOTP secret to an authenticator app, or print the current",
            "code with `.venv/bin/python manage.py demo_totp EMAIL`):",
        ]
        staff: dict[str, User] = {}
        for email, roles, name in DEMO_STAFF:
            password = _password()
            user = User.objects.create_staff(
                email=email, password=password, roles=roles, display_name=name
            )
            device = TOTPDevice.objects.create(user=user, name="demo", confirmed=True)
            secret = _base32(device.bin_key)
            lines.append(f"  {email:36} {password}  roles={','.join(roles)}  totp={secret}")
            staff[email] = user
        demo = billing_demo_load(
            orders_desk=staff["orders@staff.winkeltjes.net"],
            directory=Path(settings.VAR_DIR) / "demo",
        )
        lines += [
            "",
            "Billing walk-through (README, 'Finance in the demo'):",
            f"  {demo.paid.number}  {demo.paid.total_cents / 100:8.2f}  paid by the demo statement",
            f"  {demo.overpaid.number}  {demo.overpaid.total_cents / 100:8.2f}  overpaid by it",
            f"  {demo.unpaid.number}  {demo.unpaid.total_cents / 100:8.2f}  unpaid since "
            f"{demo.unpaid.issue_date:%d-%m-%Y}, reminders and the 14-day letter sent",
            f"  statement to import: {demo.statement}",
        ]
        police = police_demo_load(
            customer=Customer.objects.get(number="K000004"),
            first=staff["privacy@staff.winkeltjes.net"],
            second=staff["privacy2@staff.winkeltjes.net"],
        )
        lines += [
            "",
            "A police order under secrecy (privacy officers: Politie en justitie):",
            f"  {police.authority}, {police.order_reference}: answered for K000004 "
            "(jonas@…); nothing of it shows on his pages, in his export or his mail",
        ]
        from kluis.sites.demo import sites_demo_load

        site = sites_demo_load(Customer.objects.get(number="K000001"))
        from kluis.usage.demo import usage_demo_load

        usage_demo_load(site)
        lines += [
            "",
            f"A live webshop (site {site.pk}) of K000001: Sites in the portal; the firewall",
            f"files are in {settings.KLUIS_FIREWALL_DIR}",
            "A week of its nginx and Postfix logs is read into its statistics",
            f"(portal: Sites > site {site.pk} > Statistieken; mailbox info@demo-winkel.nl)",
        ]
        audit_append(
            action="demo.loaded",
            actor="system:demo_data",
            data={
                "customers": len(DEMO_CUSTOMERS),
                "staff": len(DEMO_STAFF),
            },
        )
        return lines


def _base32(key: bytes) -> str:
    import base64

    return base64.b32encode(key).decode().rstrip("=")
