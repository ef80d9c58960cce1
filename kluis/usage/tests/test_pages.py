"""The customer's statistics pages and CSV, and support's audited view."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kluis.audit.models import AuditEntry
from kluis.testing import log_in
from kluis.usage.ingest import ingest_batch
from kluis.usage.models import Mailbox

from .lines import kluis_json, syslog

pytestmark = pytest.mark.django_db(databases="__all__")


def test_owner_sees_chart_table_and_csv_support_sees_it_audited(client, personas, shop, today):
    lines = [kluis_json(today, f"145.100.{n}.1", "/catalogus", size=2048) for n in range(6)]
    ingest_batch(node="n1", kind="nginx", batch_id="p1", lines=lines)
    box = Mailbox(customer=personas.customer_a, address="info@shop.example.nl")
    box.save()
    mail = [
        syslog(
            today,
            "qmgr",
            "2B2B2B2B2B: from=<klant@elders.example>, size=5000, nrcpt=1 (queue active)",
        ),
        syslog(
            today,
            "lmtp",
            "2B2B2B2B2B: to=<info@shop.example.nl>, relay=dovecot, delay=0.1, "
            "delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 Saved)",
        ),
    ]
    ingest_batch(node="mx1", kind="postfix", batch_id="p2", lines=mail)

    log_in(client, personas.alice)
    page = client.get(reverse("usage_portal:site", kwargs={"site_id": shop.pk})).content.decode()
    assert page.count("<svg") == 3
    assert f'data-day="{today:%Y-%m-%d}" data-value="6"' in page  # requests, visitors
    assert "/catalogus" in page  # six visitors: a page that is shown
    csv = client.get(reverse("usage_portal:site-csv", kwargs={"site_id": shop.pk}))
    assert csv["Content-Type"].startswith("text/csv")
    assert f"{today.isoformat()},6,6,12288,0,False" in csv.content.decode()
    mail_page = client.get(reverse("usage_portal:mail")).content.decode()
    assert "info@shop.example.nl" in mail_page and "elders.example" not in mail_page
    mail_csv = client.get(reverse("usage_portal:mail-csv")).content.decode()
    assert f"info@shop.example.nl,{today.isoformat()},1,5000,0,0,0,0,0" in mail_csv

    # Bob may not see Alice's site.
    log_in(client, personas.bob)
    assert client.get(reverse("usage_portal:site", kwargs={"site_id": shop.pk})).status_code == 404

    log_in(client, personas.staff["support"])
    before = AuditEntry.objects.filter(action="usage.statistics_viewed").count()
    staff = client.get(reverse("usage_backoffice:site", kwargs={"site_id": shop.pk}))
    assert staff.status_code == 200 and "info@shop.example.nl" not in staff.content.decode()
    viewed = AuditEntry.objects.filter(action="usage.statistics_viewed")
    assert viewed.count() == before + 1
    assert viewed.last().subject == personas.customer_a.pk
