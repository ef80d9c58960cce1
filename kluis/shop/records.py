"""The shop's rows of a person for their copy (kluis.rights.records): orders, the
services they started, the documents they accepted, and who got data for them.

Runs inside the copy's language; every text is readable (status labels, amounts as
"€ 1.234,56"), never a code.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Prefetch
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kluis.formats import euro, long_date
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.policy.schema import Location
from kluis.rights.records import Found, NamedRecipient, Record
from kluis.shop.domains import domains_reveal, registry_declared
from kluis.shop.models import Acceptance, Order, OrderLine, Subscription, with_domain

# The copy is made for the person by the rights app; their domain names are theirs.
PURPOSE = "data_subject_rights"
ACTOR = Actor.system("rights")

# Orders that never led to a registration or a hosted package imply no recipient.
ENDED_UNUSED = (Order.Status.CANCELLED, Order.Status.WITHDRAWN)


def _day(value: object) -> str:
    return long_date(value) if isinstance(value, dt.date) else ""


def shop_records(subject: uuid.UUID) -> Found:
    found = Found()
    orders = list(
        Order.objects.filter(customer_id=subject)
        .order_by("created_at")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.select_related("extension")))
    )
    every_line = [line for order in orders for line in order.lines.all()]
    names = dict(
        zip(
            (line.pk for line in every_line),
            domains_reveal(every_line, purpose=PURPOSE, actor=ACTOR),
            strict=True,
        )
    )
    for order in orders:
        lines = list(order.lines.all())
        found.records.append(
            Record(
                kind=_("bestelling"),
                reference=order.number,
                on=timezone.localdate(order.created_at),
                facts=[
                    (_("status"), str(order.get_status_display())),
                    (_("bedrag"), euro(order.total_cents)),
                    (_("besteld als"), _("consument") if order.consumer else _("bedrijf")),
                    (
                        _("onderdelen"),
                        "; ".join(with_domain(line.description, names[line.pk]) for line in lines),
                    ),
                ],
                row=order,
            )
        )
        if order.status not in ENDED_UNUSED:
            found.recipients += _recipients(order, lines, names)
    subscriptions = list(
        Subscription.objects.filter(customer_id=subject).select_related("product", "extension")
    )
    sub_names = domains_reveal(subscriptions, purpose=PURPOSE, actor=ACTOR)
    for sub, domain in zip(subscriptions, sub_names, strict=True):
        facts = [
            (_("dienst"), sub.name(translation.get_language() or "nl")),
            (_("periode"), str(sub.get_period_display())),
            (_("loopt tot"), _day(sub.period_end)),
        ]
        if sub.ends_on is not None:
            facts.append((_("stopt op"), _day(sub.ends_on)))
        found.records.append(
            Record(kind=_("abonnement"), reference=domain or "", on=sub.started_on, facts=facts)
        )
    for accepted in Acceptance.objects.filter(customer_id=subject).select_related("order"):
        found.records.append(
            Record(
                kind=_("aanvaarding"),
                reference=accepted.order.number if accepted.order else "",
                on=timezone.localdate(accepted.accepted_at),
                facts=[
                    (_("document"), str(accepted.get_document_display())),
                    (_("versie"), accepted.version),
                ],
                row=accepted,
            )
        )
    return found


def _recipients(
    order: Order, lines: list[OrderLine], names: dict[int, str | None]
) -> list[NamedRecipient]:
    policy = current_policy()
    language = translation.get_language() or "nl"
    named: list[NamedRecipient] = []
    for line in lines:
        if line.kind == OrderLine.Kind.DOMAIN and line.extension is not None:
            ext = line.extension
            # The registry itself, as the policy declares it: kluis sends to it directly.
            found = registry_declared(ext.tld)
            key, declared = found if found is not None else ("", None)
            named.append(
                NamedRecipient(
                    recipient=key,
                    name=(declared.name or declared.label.get(language))
                    if declared is not None
                    else ext.registry,
                    reason=_("de registry van .%(tld)s, voor %(domain)s")
                    % {"tld": ext.tld, "domain": names.get(line.pk) or "\u2022" * 8},
                    country=declared.country if declared is not None else ext.registry_country,
                    outside_eu=declared.location is Location.NON_EU
                    if declared is not None
                    else not ext.eu,
                )
            )
        elif line.kind == OrderLine.Kind.PRODUCT:
            supplier = policy.recipients.get("server_supplier")
            if supplier is not None:
                sub = supplier.subprocessor
                named.append(
                    NamedRecipient(
                        recipient="server_supplier",
                        name=supplier.name
                        or (sub.legal_name if sub else supplier.label.get(language)),
                        reason=_("de leverancier van de servers van je webwinkel of website"),
                        country=supplier.country,
                        outside_eu=False,
                    )
                )
    return named
