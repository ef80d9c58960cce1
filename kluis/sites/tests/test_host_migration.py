"""The migrations seal the host names and admin addresses that sites held in plain text.

The database is taken back to sites 0002, two sites are written as that version wrote
them (one with host names and an admin address, one set up without them), and migrated
forward: every value opens for its owner in the order written, the usage ingest finds
the site by a host name through its blind index, and no plain copy is left in a row.
"""

from __future__ import annotations

import pytest
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from kluis.policy.enforce import Actor
from kluis.shop.testing import make_subscription
from kluis.sites.hosts import HostLookup, names_of
from kluis.sites.models import Site, SiteHost

BEFORE = [("sites", "0002_firewallexportrequest")]
HOSTS = "oudewinkel7f3a9c.nl www.oudewinkel7f3a9c.nl"
ADMIN = "https://oudewinkel7f3a9c.nl/beheer/"


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_migrations_seal_plain_host_names_and_drop_the_plain_columns(personas):
    first = make_subscription(personas.customer_a)[0]
    second = make_subscription(personas.customer_b)[0]
    executor = MigrationExecutor(connections["default"])
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    OldSite = executor.loader.project_state(BEFORE).apps.get_model("sites", "Site")
    named = OldSite.objects.create(
        customer_id=first.customer_id,
        subscription_id=first.pk,
        kind="webshop",
        host_names=HOSTS,
        admin_url=ADMIN,
    )
    bare = OldSite.objects.create(
        customer_id=second.customer_id, subscription_id=second.pk, kind="website"
    )

    executor = MigrationExecutor(connections["default"])
    executor.migrate(executor.loader.graph.leaf_nodes())

    sites = list(Site.objects.order_by("pk"))
    assert [s.pk for s in sites] == [named.pk, bare.pk]
    owner = Actor.subject(first.customer_id)
    names = names_of([sites[0]], actor=owner)[named.pk]
    assert names.hosts == HOSTS.split()
    assert names.admin_url == ADMIN
    assert names_of([sites[1]], actor=Actor.subject(second.customer_id))[bare.pk].hosts == []
    assert SiteHost.objects.filter(site_id=bare.pk).count() == 0
    lookup = HostLookup()
    assert lookup(b"www.oudewinkel7f3a9c.nl") == named.pk
    assert lookup(b"elders.nl") is None
    for alias in ("default", "keystore"):
        with connections[alias].cursor() as cursor:
            for table in connections[alias].introspection.table_names(cursor):
                cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608
                for row in cursor.fetchall():
                    assert "oudewinkel7f3a9c" not in repr(row), (alias, table)
