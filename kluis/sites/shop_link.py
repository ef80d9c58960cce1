"""The one place sites meet the shop: a site per webshop or website subscription.

A delivered webshop or website package starts a subscription (kluis/shop); this
module makes a site for each such subscription and lets the site's life follow it:
once the subscription has run past its last day, the site is ended (its admin
allowlist leaves the firewall). Nothing else in kluis/sites reads shop rows.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from kluis.audit.chain import audit_append
from kluis.shop.models import OrderLine, Product, Subscription
from kluis.sites.models import Site
from kluis.vault.errors import RevealRefused

ACTOR = "system:sites_sync"
SITE_KINDS = {Product.Kind.WEBSHOP: Site.Kind.WEBSHOP, Product.Kind.WEBSITE: Site.Kind.WEBSITE}


def package_name(site: Site, language: str) -> str:
    return site.subscription.name(language)


def sites_sync(today: dt.date | None = None) -> int:
    """Make the missing sites and end those whose subscription ended; how many changed."""
    day = today or timezone.localdate()
    changed = 0
    missing = Subscription.objects.filter(
        kind=OrderLine.Kind.PRODUCT,
        product__kind__in=list(SITE_KINDS),
        site__isnull=True,
    ).select_related("product")
    for subscription in missing:
        if subscription.has_ended(day):
            continue
        assert subscription.product is not None
        with transaction.atomic():
            site = Site.objects.create(
                customer_id=subscription.customer_id,
                subscription=subscription,
                kind=SITE_KINDS[Product.Kind(subscription.product.kind)],
            )
            audit_append(
                action="sites.site_created",
                actor=ACTOR,
                subject=subscription.customer_id,
                data={"site": site.pk, "subscription": subscription.pk},
            )
        changed += 1
    running = Site.objects.exclude(status=Site.Status.ENDED).select_related("subscription")
    for site in running:
        if site.subscription.has_ended(day):
            site_set_status(site, Site.Status.ENDED, actor=ACTOR)
            changed += 1
    return changed


def site_set_status(site: Site, status: str, *, actor: str) -> bool:
    """Set the site's status, audited; a suspension mails the customer. Returns False
    when that mail is held: the customer restricted processing (art. 18 GDPR), so the
    policy lets kluis not open their address for account management. The suspension
    still happens, the vault records the refused reveal and the audit a held mail
    (`sites.site_suspended_mail_held`); the desk says the customer was not mailed.

    An ended site gives up its admin port in the same transaction (audited as
    `sites.site_admin_port` with the reason "ended"): its drop leaves the ruleset at
    the export this asks for, and the port is free for another site of its node."""
    with transaction.atomic():
        before = site.status
        port = site.admin_port
        site.status = status
        site.status_changed_at = timezone.now()
        fields = ["status", "status_changed_at"]
        if status == Site.Status.ENDED and port is not None:
            site.admin_port = None
            fields.append("admin_port")
        site.save(update_fields=fields)
        audit_append(
            action="sites.site_status",
            actor=actor,
            subject=site.customer_id,
            data={"site": site.pk, "from": before, "to": status},
        )
        if "admin_port" in fields:
            from kluis.sites.firewall import export_request

            audit_append(
                action="sites.site_admin_port",
                actor=actor,
                subject=site.customer_id,
                data={"site": site.pk, "from": port, "to": None, "reason": "ended"},
            )
            export_request(site.pk)
        if status == Site.Status.SUSPENDED and before != status:
            from kluis.sites.emails import mail_site_suspended

            try:
                mail_site_suspended(site=site)
            except RevealRefused as exc:
                # Refused before anything was queued: nothing to undo.
                audit_append(
                    action="sites.site_suspended_mail_held",
                    actor=actor,
                    subject=site.customer_id,
                    data={"site": site.pk, "reason": str(exc)},
                )
                return False
    return True
