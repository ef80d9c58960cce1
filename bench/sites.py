"""Benchmark of kluis/sites: the firewall export of 10,000 sites with 5 entries each,
one in ten with an admin port of its own (the ruleset's chain).

The floor writes the same bytes (one nftables file, 10,000 nginx includes) with plain
`write_bytes`: no database, no vault, no comparison, no fsync or rename.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from django.test import override_settings

from bench.__main__ import Figure

CUSTOMERS = 100
# One site in ten has an admin port of its own: the ruleset's chain has 1,000 ports.
PORT_EVERY, PORT_BASE = 10, 20_000


def _make(sites: int, per_site: int) -> None:
    from kluis.accounts.models import Customer
    from kluis.shop.catalogue import catalogue_load
    from kluis.shop.models import Order, OrderLine, Product, Subscription
    from kluis.sites.models import AllowEntry, Site

    catalogue_load()
    product = Product.objects.get(code="webwinkel-start")
    customers = []
    for i in range(CUSTOMERS):
        customer = Customer(number=f"S{i:07d}", name=f"Bench {i}", email=f"s{i}@example.nl")
        customer.save()
        customers.append(customer)
    today = dt.date.today()
    orders = [
        Order(
            number=f"SB{i:08d}",
            customer=customers[i % CUSTOMERS],
            status=Order.Status.DELIVERED,
            idempotency_key=secrets.token_urlsafe(24),
            language="nl",
            total_cents=product.price_cents,
            agreement_version="1",
            processor_agreement_version="1",
        )
        for i in range(sites)
    ]
    Order.objects.bulk_create(orders, batch_size=2000)
    lines = [
        OrderLine(
            order=o,
            position=0,
            kind=OrderLine.Kind.PRODUCT,
            product=product,
            description="x",
            price_cents=product.price_cents,
            period=product.period,
        )
        for o in orders
    ]
    OrderLine.objects.bulk_create(lines, batch_size=2000)
    subscriptions = [
        Subscription(
            customer_id=o.customer_id,
            line=line,
            kind=line.kind,
            product=product,
            period=line.period,
            started_on=today,
            period_start=today,
            period_end=today + dt.timedelta(days=30),
        )
        for o, line in zip(orders, lines, strict=True)
    ]
    Subscription.objects.bulk_create(subscriptions, batch_size=2000)
    made = Site.objects.bulk_create(
        [
            Site(
                customer_id=s.customer_id,
                subscription=s,
                kind="webshop",
                status="live",
                admin_port=PORT_BASE + n // PORT_EVERY if n % PORT_EVERY == 0 else None,
            )
            for n, s in enumerate(subscriptions)
        ],
        batch_size=2000,
    )
    entries = []
    for n, site in enumerate(made):
        for k in range(per_site):
            entry = AllowEntry(
                site=site, customer_id=site.customer_id, version=4, prefix=32, label="bench"
            )
            entry.network = f"145.{100 + k}.{n // 256 % 256}.{n % 256}"
            entries.append(entry)
    AllowEntry.objects.bulk_create(entries, batch_size=2000)


def bench_sites_export(sites: int = 10_000, per_site: int = 5) -> list[Figure]:
    from kluis.sites.firewall import NFT_FILE, firewall_export, render_nft, render_nginx

    _make(sites, per_site)
    root = Path(tempfile.mkdtemp(prefix="kluis-firewall-"))
    try:
        start, start_cpu, before = time.perf_counter(), time.process_time(), os.times()
        first = firewall_export(directory=root)
        full, full_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        full_kernel = os.times().system - before.system
        assert first.sites == sites and first.entries == sites * per_site, first
        start, start_cpu = time.perf_counter(), time.process_time()
        again = firewall_export(directory=root)
        unchanged = time.perf_counter() - start
        unchanged_cpu = time.process_time() - start_cpu
        assert again.written == 0, again

        # One change as a request makes it: the request only asks (a row); the worker's
        # queue exports, writing the ruleset and that one site's include.
        from kluis.sites.firewall import export_request, export_requests_handle
        from kluis.sites.models import AllowEntry, Site

        site = Site.objects.order_by("pk").first()
        assert site is not None
        entry = AllowEntry(site=site, customer_id=site.customer_id, version=4, prefix=32)
        entry.network = "145.99.0.1"
        start = time.perf_counter()
        entry.save()
        export_request(site.pk)
        asked = time.perf_counter() - start
        with override_settings(KLUIS_FIREWALL_DIR=root):
            start = time.perf_counter()
            handled = export_requests_handle()
            queued = time.perf_counter() - start
        assert handled == 1, handled
        AllowEntry.objects.filter(pk=entry.pk).delete()
        firewall_export(directory=root)

        # The floor: the same bytes, written bare.
        from kluis.sites.firewall import admin_ports, current_state

        state, ports = current_state(), admin_ports()
        bare = root / "bare"
        (bare / "nginx").mkdir(parents=True)
        start, start_cpu, before = time.perf_counter(), time.process_time(), os.times()
        (bare / NFT_FILE).write_bytes(render_nft(state, ports))
        for site_id, networks in state.items():
            (bare / "nginx" / f"site-{site_id}.conf").write_bytes(render_nginx(site_id, networks))
        floor, floor_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        floor_kernel = os.times().system - before.system
    finally:
        shutil.rmtree(root, ignore_errors=True)
    label = f"firewall export, {sites:,} sites x {per_site} entries"
    return [
        Figure(label, full * 1000, "ms", floor * 1000, "< 2 s", full < 2.0),
        Figure(f"{label} (CPU)", full_cpu * 1000, "ms", floor_cpu * 1000, "(reported)", None),
        # Of that CPU time, the kernel's (creating, writing and renaming 10,001 files).
        # On an ext4 without a journal the kernel skips every inode freed in the last
        # 1-5 minutes when it makes a file (fs/ext4/ialloc.c, recently_deleted): after
        # a run that deleted thousands of files this share alone can take seconds.
        Figure(
            f"{label} (CPU in the kernel)",
            full_kernel * 1000,
            "ms",
            floor_kernel * 1000,
            "(reported)",
            None,
        ),
        Figure(
            f"{label}, nothing changed", unchanged * 1000, "ms", None, "< 0.5 s", unchanged < 0.5
        ),
        Figure(
            f"{label}, nothing changed (CPU)",
            unchanged_cpu * 1000,
            "ms",
            None,
            "(reported)",
            None,
        ),
        Figure(
            "firewall: a change in the request (entry saved, export asked)",
            asked * 1000,
            "ms",
            None,
            "(reported)",
            None,
        ),
        Figure(
            "firewall: the worker takes one change up (its site alone)",
            queued * 1000,
            "ms",
            None,
            "(reported)",
            None,
        ),
    ]
