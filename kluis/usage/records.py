"""The customer's mailboxes and the usage counts of their sites and mailboxes for their
copy (kluis.rights.records): one record per mailbox (its package, since when, until
when), and one per site or mailbox per day that has counts.

Only what the tables keep: counts and sizes. A day that is still open shows the counts
so far; its visitor estimate is final once the day is closed. The mailbox's address is
a sealed value of its own row, which the copy shows with the other sealed values,
named by the mailbox's record ("mailbox <id>").
"""

from __future__ import annotations

import uuid

from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kluis.formats import long_date
from kluis.rights.records import Found, Record
from kluis.usage.models import Mailbox, MailDay, SiteDay


def mailbox_records(subject: uuid.UUID) -> list[Record]:
    """Each mailbox of the customer, running or ended; its address is the row's sealed value."""
    language = translation.get_language() or "nl"
    records = []
    for box in Mailbox.objects.filter(customer_id=subject).select_related("subscription__product"):
        package = box.subscription.name(language) if box.subscription is not None else ""
        facts = [
            (_("pakket"), package or _("geen pakket meer")),
            (_("in gebruik sinds"), long_date(timezone.localdate(box.created_at))),
        ]
        if box.ended_at is not None:
            facts.append((_("beëindigd op"), long_date(timezone.localdate(box.ended_at))))
        else:
            facts.append((_("status"), _("in gebruik")))
        records.append(
            Record(
                kind=_("mailbox"),
                reference=str(box.pk),
                on=timezone.localdate(box.created_at),
                facts=facts,
                row=box,
            )
        )
    return records


def usage_records(subject: uuid.UUID) -> Found:
    found = Found(records=mailbox_records(subject))
    site_days = SiteDay.objects.filter(site__customer_id=subject).order_by("site_id", "day")
    for row in site_days:
        found.records.append(
            Record(
                kind=_("gebruik van je site"),
                reference=str(row.site_id),
                on=row.day,
                facts=[
                    (_("verzoeken"), str(row.requests)),
                    (_("bezoekers (geschat)"), str(row.visitors)),
                    (_("verstuurde data"), str(filesizeformat(row.bytes))),
                    (
                        _("antwoorden 2xx / 3xx / 4xx / 5xx"),
                        f"{row.status_2xx} / {row.status_3xx} / "
                        f"{row.status_4xx} / {row.status_5xx}",
                    ),
                ],
            )
        )
    mail_days = MailDay.objects.filter(mailbox__customer_id=subject).order_by("mailbox_id", "day")
    for day in mail_days:
        found.records.append(
            Record(
                kind=_("mailverkeer van je mailbox"),
                reference=str(day.mailbox_id),
                on=day.day,
                facts=[
                    (_("ontvangen"), f"{day.received} ({filesizeformat(day.received_bytes)})"),
                    (_("verstuurd"), f"{day.sent} ({filesizeformat(day.sent_bytes)})"),
                    (_("ontvangers"), str(day.recipients)),
                    (_("uitgesteld"), str(day.deferred)),
                    (_("teruggestuurd"), str(day.bounced)),
                ],
            )
        )
    return found
