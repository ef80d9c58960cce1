"""The sites' rows of a customer for their copy (kluis.rights.records): each site, and
every time support had access to its admin. A site's host names and admin address are
sealed (kluis/sites/hosts.py): the copy shows them with the other sealed values.

Runs inside the copy's language; every text is readable, never a code. The addresses
on an allowlist, a help request's messages and a grant's staff address are sealed, so
the copy shows them from the vault with the other sealed values.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone
from django.utils.translation import gettext as _

from kluis.formats import long_datetime
from kluis.rights.records import Found, Record
from kluis.sites.models import Site, SupportGrant


def _moment(value: dt.datetime | None) -> str:
    return long_datetime(value) if value is not None else ""


def sites_records(subject: uuid.UUID) -> Found:
    found = Found()
    for site in Site.objects.filter(customer_id=subject).order_by("created_at", "pk"):
        facts = [
            (_("soort"), str(site.get_kind_display())),
            (_("status"), str(site.get_status_display())),
        ]
        found.records.append(
            Record(
                kind=_("site"),
                reference=str(site.pk),
                on=timezone.localdate(site.created_at),
                facts=facts,
            )
        )
    grants = (
        SupportGrant.objects.filter(site__customer_id=subject)
        .select_related("help_request")
        .order_by("starts_at", "pk")
    )
    for grant in grants:
        why = str(grant.get_reason_display())
        if grant.help_request is not None:
            why = f"{why} {grant.help_request.reference}"
        elif grant.note:
            why = f"{why}: {grant.note}"
        facts = [
            (_("site"), str(grant.site_id)),
            (_("wie"), _("medewerker %(id)s") % {"id": grant.staff_id}),
            (_("waarom"), why),
            (_("vanaf"), _moment(grant.starts_at)),
            (_("tot"), _moment(grant.until)),
        ]
        if grant.ended_by == "customer":
            facts.append((_("beëindigd"), _("door jou")))
        elif grant.ended_by == "staff":
            facts.append((_("beëindigd"), _("door de medewerker")))
        found.records.append(
            Record(
                kind=_("toegang van support"),
                reference=str(grant.pk),
                on=timezone.localdate(grant.starts_at),
                facts=facts,
            )
        )
    return found
