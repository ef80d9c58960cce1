"""After an ingest, no full address, user agent, query string, subject, message id or
correspondent's address is in any table or database file."""

from __future__ import annotations

import pytest

from kluis.usage.ingest import ingest_batch
from kluis.usage.models import Mailbox, SiteDay

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
