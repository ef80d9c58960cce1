"""The figures the portal and the back office show: 90 days per site, per mailbox."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Sum
from django.utils import timezone

from kluis.usage.models import MailDay, PageDay, SiteDay

DAYS = 90
TOP_PAGES = 20


@dataclass(frozen=True)
class Day:
    day: dt.date
    requests: int = 0
    visitors: int = 0
    bytes: int = 0
    errors: int = 0  # 4xx and 5xx answers
    closed: bool = True


@dataclass(frozen=True)
class MailFigures:
    day: dt.date
    received: int = 0
    received_bytes: int = 0
    sent: int = 0
    sent_bytes: int = 0
    recipients: int = 0
    deferred: int = 0
    bounced: int = 0


def _window(today: dt.date | None) -> tuple[dt.date, dt.date]:
    last = today or timezone.localdate()
    return last - dt.timedelta(days=DAYS - 1), last


def site_days(site_id: int, today: dt.date | None = None) -> list[Day]:
    """Every day of the last 90, oldest first, zero where nothing was logged."""
    first, last = _window(today)
    rows = {
        r.day: r
        for r in SiteDay.objects.filter(site_id=site_id, day__gte=first, day__lte=last).defer(
            "sketch"
        )
    }
    out = []
    for n in range(DAYS):
        day = first + dt.timedelta(days=n)
        r = rows.get(day)
        out.append(
            Day(day)
            if r is None
            else Day(day, r.requests, r.visitors, r.bytes, r.status_4xx + r.status_5xx, r.closed)
        )
    return out


def top_pages(site_id: int, today: dt.date | None = None) -> list[tuple[str, int]]:
    first, last = _window(today)
    rows = (
        PageDay.objects.filter(site_id=site_id, day__gte=first, day__lte=last, qualified=True)
        .values("path")
        .annotate(total=Sum("requests"))
        .order_by("-total", "path")[:TOP_PAGES]
    )
    return [(r["path"], r["total"]) for r in rows]


def mailbox_days(mailbox_id: uuid.UUID, today: dt.date | None = None) -> list[MailFigures]:
    """The days of the last 90 with mail, newest first."""
    first, last = _window(today)
    rows = MailDay.objects.filter(mailbox_id=mailbox_id, day__gte=first, day__lte=last)
    return [
        MailFigures(
            r.day,
            r.received,
            r.received_bytes,
            r.sent,
            r.sent_bytes,
            r.recipients,
            r.deferred,
            r.bounced,
        )
        for r in rows.order_by("-day")
    ]


def mailbox_totals(
    mailbox_ids: list[uuid.UUID], today: dt.date | None = None
) -> dict[uuid.UUID, dict[str, int]]:
    first, last = _window(today)
    fields = ("received", "received_bytes", "sent", "sent_bytes", "deferred", "bounced")
    rows = (
        MailDay.objects.filter(mailbox_id__in=mailbox_ids, day__gte=first, day__lte=last)
        .values("mailbox_id")
        .annotate(**{f: Sum(f) for f in fields})
    )
    return {r["mailbox_id"]: {f: r[f] or 0 for f in fields} for r in rows}
