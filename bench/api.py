"""Benchmarks of the REST API (kluis/api), in-process through Django's whole stack.

- 10,000 invoices of one customer, listed page by page (100 a page) through
  `GET /api/v1/invoices` with a token: every request authenticates, counts against
  the rate limit, is audited in the hash chain and serialised by the schema. The floor
  is the same keyset query in the ORM, page by page, without HTTP.
- A hosting node's firewall fetch with a matching ETag: 304, median of many.
"""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
import time
import uuid

from bench.__main__ import Figure

SERIES = "BAPI"


def _invoices(customer_id: uuid.UUID, n: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from kluis.billing.models import Invoice
    from kluis.billing.reference import new_reference

    issued = timezone.now() - dt.timedelta(days=400)
    references: set[str] = set()
    rows = []
    for j in range(n):
        while (reference := new_reference()) in references:
            pass
        references.add(reference)
        day = (issued + dt.timedelta(hours=j)).date()
        rows.append(
            Invoice(
                series=SERIES,
                sequence=j + 1,
                number=f"{SERIES}-{j + 1:06d}",
                customer_id=customer_id,
                issue_date=day,
                supply_date=day,
                due_date=day + dt.timedelta(days=14),
                country="NL",
                vat_scheme=Invoice.VatScheme.DUTCH,
                vat_country="NL",
                vat_rate_bp=2100,
                net_cents=1000 + j % 500,
                vat_cents=210,
                total_cents=1210 + j % 500,
                paid_cents=0 if j % 3 else 1210 + j % 500,
                payment_reference=reference,
                issued_at=issued + dt.timedelta(hours=j // 2),  # pairs share a moment
            )
        )
    with transaction.atomic():
        Invoice.objects.bulk_create(rows, batch_size=2000)


def bench_api(n: int = 10_000, page: int = 100, fetches: int = 300) -> list[Figure]:
    from django.conf import settings
    from django.test import Client

    from bench.sites import _make
    from kluis.api import quiet
    from kluis.api.paging import page as keyset_page
    from kluis.api.testing import service_token, token_for
    from kluis.api.tokens import digest, still_usable
    from kluis.billing.models import Invoice
    from kluis.sites.firewall import firewall_changed, firewall_version, inputs_digest
    from kluis.sites.models import AllowEntry, Site
    from kluis.testing import make_customer, make_staff

    settings.KLUIS_API_RATE_PER_MINUTE = 10**9
    alice = make_customer(name="Bench API", email=f"api-{uuid.uuid4().hex[:8]}@example.nl")
    assert alice.customer_id is not None
    _invoices(alice.customer_id, n)
    token = token_for(alice, ["invoices:read"])
    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")

    def walk() -> list[float]:
        times: list[float] = []
        seen = 0
        cursor = ""
        while True:
            url = f"/api/v1/invoices?limit={page}" + (f"&cursor={cursor}" if cursor else "")
            start = time.perf_counter()
            response = client.get(url, secure=True)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, response.content[:300]
            body = response.json()
            seen += len(body["items"])
            if not body["next_cursor"]:
                break
            cursor = body["next_cursor"]
        assert seen == n, seen
        return times

    def orm() -> float:
        queryset = Invoice.objects.for_customer(alice.customer).select_related("corrects")
        start = time.perf_counter()
        seen, cursor = 0, None
        while True:
            rows, cursor = keyset_page(
                queryset.prefetch_related("credit_notes"),
                first="issued_at",
                second="number",
                descending=True,
                cursor=cursor,
                limit=page,
                parse=dt.datetime.fromisoformat,
            )
            seen += len(rows)
            if cursor is None:
                break
        assert seen == n
        return time.perf_counter() - start

    walk()  # warm
    times = walk()
    total = sum(times)
    p95 = statistics.quantiles(times, n=20)[18]
    floor = min(orm() for _ in range(3))
    pages = len(times)

    if not Site.objects.exists():  # the sites benchmark, if it ran, left 10,000
        _make(100, 5)
    firewall_changed()  # bulk_create passes the models' signals by
    sites = Site.objects.count()
    entries = AllowEntry.objects.count()
    admin = make_staff(roles=["admin"])
    node = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {service_token(admin)}")
    first = node.get("/api/v1/nodes/firewall", secure=True)
    assert first.status_code == 200
    etag = first["ETag"]
    fetch_times = []
    for _ in range(fetches):
        start = time.perf_counter()
        answer = node.get("/api/v1/nodes/firewall", secure=True, HTTP_IF_NONE_MATCH=etag)
        fetch_times.append(time.perf_counter() - start)
        assert answer.status_code == 304
    median = statistics.median(fetch_times) * 1000
    # The same polls, each the first of its minute: recorded (audit entry, rate-limit
    # count, last use) with a commit each, as every poll was before.
    real_clock = quiet.clock
    ticks = itertools.count()
    quiet.clock = lambda: real_clock() + 60 * next(ticks)
    recorded_times = []
    try:
        for _ in range(max(fetches // 3, 20)):
            start = time.perf_counter()
            answer = node.get("/api/v1/nodes/firewall", secure=True, HTTP_IF_NONE_MATCH=etag)
            recorded_times.append(time.perf_counter() - start)
            assert answer.status_code == 304
    finally:
        quiet.clock = real_clock
    recorded_median = statistics.median(recorded_times) * 1000
    # The floor: what an unchanged poll must read, without HTTP: that the token is
    # still neither revoked nor expired, and the allowlists' version row.
    secret = digest(node.defaults["HTTP_AUTHORIZATION"].removeprefix("Bearer "))
    floors = []
    for _ in range(fetches):
        start = time.perf_counter()
        assert still_usable(secret)
        firewall_version()
        floors.append(time.perf_counter() - start)
    read_floor = statistics.median(floors) * 1000
    digests = []
    for _ in range(max(fetches // 10, 10)):
        start = time.perf_counter()
        inputs_digest()
        digests.append(time.perf_counter() - start)
    digest_median = statistics.median(digests) * 1000
    return [
        Figure(
            f"API: list {n:,} invoices, {pages} pages of {page} (requests/s)",
            pages / total,
            "req/s",
            pages / floor,
            "(reported; floor: the same pages in the ORM)",
            None,
        ),
        Figure(
            f"API: one page of {page} invoices, p95",
            p95 * 1000,
            "ms",
            floor / pages * 1000,
            "(reported; floor: the ORM's mean page)",
            None,
        ),
        Figure(
            f"API: firewall fetch with matching ETag -> 304, median "
            f"({sites:,} sites, {entries:,} entries)",
            median,
            "ms",
            read_floor,
            "<= 2 ms (floor: the token's and the version's rows read bare)",
            median <= 2.0,
        ),
        Figure(
            "API: the same 304, each poll the first of its minute (audited with a commit), median",
            recorded_median,
            "ms",
            read_floor,
            "(reported; floor as above)",
            None,
        ),
        Figure(
            "API: recomputing the ETag from every entry's id (before it was kept), median",
            digest_median,
            "ms",
            read_floor,
            "(reported; what a change costs the next fetch once)",
            None,
        ),
    ]
