"""Canary values written through the models never reach the database in plain text."""

from pathlib import Path

import pytest
from django.apps import apps
from django.db import connections

from kluis.accounts.models import Contact, User
from kluis.vault.tests.helpers import make_customer

CANARIES = {
    "name": "Kanarie-Naam-7f3a9c",
    "email": "kanarie.7f3a9c@example.nl",
    "phone": "+31 6 7373 9191",
    "address_street": "Kanariestraat 7f3a9c",
    "address_postcode": "9191 KC",
    "address_city": "Kanariedorp",
    "company_name": "Kanarie Holding 7f3a9c",
    "kvk_number": "73739191",
    "vat_number": "NL737391910B01",
}


def _sqlite_bytes(alias: str) -> bytes:
    name = Path(connections[alias].settings_dict["NAME"])
    return b"".join(
        p.read_bytes() for p in (name, Path(f"{name}-wal"), Path(f"{name}-journal")) if p.exists()
    )


def _postgres_text(alias: str) -> str:
    chunks = []
    connection = connections[alias]
    with connection.cursor() as cursor:
        for model in apps.get_models():
            table = model._meta.db_table
            if table not in connection.introspection.table_names(cursor):
                continue
            cursor.execute(f'SELECT CAST(t.* AS text) FROM "{table}" AS t')  # noqa: S608
            chunks.extend(row[0] for row in cursor.fetchall())
    return "\n".join(chunks)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_no_canary_value_is_stored_in_plain_text():
    customer = make_customer(**CANARIES)
    Contact.objects.create(
        customer=customer, name="Kanarie Contact 7f3a9c", email="contact.7f3a9c@example.nl"
    )
    User.objects.create_customer_user(
        customer=customer, email=CANARIES["email"], password="een lang wachtwoord 7f3a9c"
    )
    needles = [
        *CANARIES.values(),
        "Kanarie Contact 7f3a9c",
        "contact.7f3a9c@example.nl",
        "een lang wachtwoord 7f3a9c",
    ]
    for alias in ("default", "keystore"):
        connection = connections[alias]
        if connection.vendor == "sqlite":
            haystack = _sqlite_bytes(alias)
            for needle in needles:
                for encoding in ("utf-8", "utf-16-le"):
                    assert needle.encode(encoding) not in haystack, (alias, needle)
                assert needle.lower().encode() not in haystack.lower(), (alias, needle)
        else:
            text = _postgres_text(alias).lower()
            for needle in needles:
                assert needle.lower() not in text, (alias, needle)
