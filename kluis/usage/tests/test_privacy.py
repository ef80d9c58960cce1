"""After an ingest, no full address, user agent, query string, subject, message id or
correspondent's address is in any table or database file."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connections

from kluis.usage import store
from kluis.usage.ingest import ingest_batch
from kluis.usage.models import DaySecret, Mailbox, SiteDay
from kluis.vault.routers import KEYSTORE

from .lines import combined, kluis_json, syslog
from .privacy import found_anywhere

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

SECRETS = [
    "145.100.77.201",
    "2a02:a45:77:1::beef",
    "ZebraBrowser/9.1",
    "geheimtoken",
    "jan-jansen-1984",
    "relatie@voorbeeld.nl",
    "Geheim onderwerp",
    "bericht-id-4711",
]


def test_nothing_of_a_visitor_or_correspondent_is_kept(personas, shop, today):
    web = [
        kluis_json(
            today, "145.100.77.201", "/zoek?q=geheimtoken&u=jan-jansen-1984", ua="ZebraBrowser/9.1"
        )
        for _ in range(3)
    ]
    web += [
        combined(
            today,
            "2a02:a45:77:1::beef",
            "/account/jan-jansen-1984",
            ua="ZebraBrowser/9.1",
            host="shop.example.nl",
        ),
    ]
    box = Mailbox(customer=personas.customer_a, address="info@shop.example.nl")
    box.save()
    mail = [
        syslog(today, "cleanup", "4C4C4C4C4C: message-id=<bericht-id-4711@voorbeeld.nl>"),
        syslog(
            today,
            "cleanup",
            "4C4C4C4C4C: warning: header Subject: Geheim onderwerp from x[145.100.77.201]",
        ),
        syslog(
            today,
            "qmgr",
            "4C4C4C4C4C: from=<info@shop.example.nl>, size=999, nrcpt=1 (queue active)",
        ),
        syslog(
            today,
            "smtp",
            "4C4C4C4C4C: to=<relatie@voorbeeld.nl>, relay=mx.voorbeeld.nl[145.100.77.201]:25, "
            "delay=1, delays=0.1/0/0.4/0.5, dsn=4.2.0, status=deferred (mailbox busy)",
        ),
    ]
    assert ingest_batch(node="n1", kind="nginx", batch_id="w", lines=web).accepted == 4
    assert ingest_batch(node="n1", kind="postfix", batch_id="m", lines=mail).accepted == 4
    assert SiteDay.objects.get(site=shop).visitors == 2
    assert found_anywhere(SECRETS) == []
    # The site's host names are sealed as well: the ingest found the site by their index.
    assert found_anywhere(["shop.example.nl"]) == []
    # The check itself finds what is there.
    assert found_anywhere([personas.customer_a.number]) != []


def test_the_days_salt_is_never_in_the_main_database_and_gone_once_closed(shop, today):
    lines = [kluis_json(today, f"145.100.{n}.1", "/p") for n in range(3)]
    assert ingest_batch(node="n1", kind="nginx", batch_id="s", lines=lines).accepted == 3
    row = DaySecret.objects.get(day=today)
    assert DaySecret.objects.db == KEYSTORE
    salt = store.salt_for(today, today)
    assert salt is not None and len(salt) == 32
    wrapped = bytes(row.wrapped)
    assert salt not in wrapped  # wrapped by the master key, not kept as it is
    # Not in the main database: no table of it there, nor the salt in any of its rows.
    with connections["default"].cursor() as cursor:
        tables = connections["default"].introspection.table_names(cursor)
    assert DaySecret._meta.db_table not in tables
    assert any(h.startswith(f"{KEYSTORE}.") for h in found_anywhere([wrapped]))
    assert not [h for h in found_anywhere([salt, wrapped]) if h.startswith("default.")]

    # The day closes: the salt is gone from every table and every database file.
    assert store.days_close(today + dt.timedelta(days=2)) == 1
    assert not DaySecret.objects.exists()
    assert found_anywhere([salt, wrapped]) == []
    # And it is never made again for that day.
    assert store.salt_for(today, today + dt.timedelta(days=2)) is None
    assert not DaySecret.objects.exists()


def test_the_router_keeps_the_salt_in_the_keystore_and_lazy_objects_relate(personas):
    from django.db import router
    from django.utils.functional import SimpleLazyObject

    assert router.db_for_write(DaySecret) == KEYSTORE
    assert router.db_for_read(Mailbox) == "default"
    assert router.allow_migrate(KEYSTORE, "usage", model_name="daysecret")
    assert not router.allow_migrate("default", "usage", model_name="daysecret")
    assert not router.allow_migrate(KEYSTORE, "usage", model_name="siteday")
    customer = SimpleLazyObject(lambda: personas.customer_a)
    assert router.allow_relation(Mailbox(customer=personas.customer_a), customer) is not False
    assert router.allow_relation(DaySecret(), customer) is False
