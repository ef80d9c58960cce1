"""The usage tables expire by their day through the retention sweep.

Each table stands for a category of the policy and so takes that category's
retention class (README "Usage statistics"); the sweep deletes the rows dated on or
before the last expired day of that class.
"""

from __future__ import annotations

import datetime as dt

from django.db import models

from kluis.rights.retention import register_dated
from kluis.usage.store import MAIL_FIELDS

WEB_CATEGORY = "user.behavior.browsing_history"
MAIL_CATEGORY = "kluis.mail_traffic"


def _purge(model_name: str) -> object:
    def purge(until: dt.date, dry_run: bool) -> int:
        from django.apps import apps

        model: type[models.Model] = apps.get_model("usage", model_name)
        rows = model._default_manager.filter(day__lte=until)
        if dry_run:
            return rows.count()
        return rows.delete()[0]

    return purge


register_dated(WEB_CATEGORY, "usage.SiteDay", _purge("SiteDay"))  # type: ignore[arg-type]
register_dated(WEB_CATEGORY, "usage.PageDay", _purge("PageDay"))  # type: ignore[arg-type]
register_dated(MAIL_CATEGORY, "usage.MailDay", _purge("MailDay"))  # type: ignore[arg-type]


# What each table keeps, by the figure of the policy category it stands for
# (`aggregates.figures`); a test holds the two and the tables in step.
KEPT: dict[str, dict[str, list[str]]] = {
    WEB_CATEGORY: {
        "requests": ["SiteDay.requests"],
        "bytes": ["SiteDay.bytes"],
        "status_classes": [f"SiteDay.status_{n}xx" for n in range(1, 6)],
        "visitors": ["SiteDay.visitors"],
        "pages": ["PageDay.path", "PageDay.requests"],
    },
    MAIL_CATEGORY: {name: [f"MailDay.{name}"] for name in MAIL_FIELDS},
}
# Fields that say which row it is, or hold open-day state cleared when the day closes.
STRUCTURE = {"id", "site", "mailbox", "day", "closed", "sketch", "marks", "qualified", "key"}
