"""What changes a site's allowlist, its support grants and its help requests.

Every change is audited with the customer as subject (no addresses in the audit log:
the entry's id, family and prefix length only) and asks for a firewall export in the
same transaction (a row the worker takes up; the request writes no file); the
scheduled job repeats the export every minute, so expiries leave the files too.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_append
from kluis.sites.addresses import MAX_ENTRIES_PER_SITE, Network, canonical, parse_network
from kluis.sites.firewall import export_request
from kluis.sites.models import AllowEntry, HelpMessage, HelpRequest, Site, SupportGrant
from kluis.sites.retention import free_key_period

MAX_GRANT = dt.timedelta(hours=8)


class SitesError(Exception):
    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


def entry_add(
    *,
    site: Site,
    text: str,
    label: str,
    expires_at: dt.datetime | None,
    by: User,
    now: dt.datetime | None = None,
) -> AllowEntry:
    """Put an address or range on the site's allowlist (ValidationError if it may not)."""
    moment = now or timezone.now()
    if by.customer_id != site.customer_id:
        raise SitesError(_("Deze site is niet van jou."))
    if not site.reachable:
        raise SitesError(_("Deze site is opgeschort of beëindigd; de toegangslijst staat stil."))
    network = parse_network(text)
    if expires_at is not None and expires_at <= moment:
        raise ValidationError(_("De einddatum ligt in het verleden."), code="past")
    with transaction.atomic():
        locked = Site.objects.select_for_update().get(pk=site.pk)
        if locked.allow_entries.current(moment).count() >= MAX_ENTRIES_PER_SITE:
            raise ValidationError(
                _("Er staan al %(max)d adressen op deze lijst; haal er eerst een weg."),
                code="full",
                params={"max": MAX_ENTRIES_PER_SITE},
            )
        entry = AllowEntry(
            site=locked,
            customer_id=locked.customer_id,
            version=network.version,
            prefix=network.prefixlen,
            label=label.strip()[:80],
            expires_at=expires_at,
        )
        entry.network = canonical(network)
        entry.save(force_insert=True)
        audit_append(
            action="sites.allow_added",
            actor=by.actor().ref,
            subject=site.customer_id,
            data={
                "site": site.pk,
                "entry": str(entry.pk),
                "family": network.version,
                "prefix": network.prefixlen,
                "expires": expires_at.isoformat() if expires_at else None,
            },
        )
        export_request(site.pk)
    return entry


def entry_remove(*, entry: AllowEntry, by: User) -> None:
    if by.customer_id != entry.site.customer_id or entry.grant_id is not None:
        raise SitesError(_("Dit adres kun je hier niet weghalen."))
    with transaction.atomic():
        audit_append(
            action="sites.allow_removed",
            actor=by.actor().ref,
            subject=entry.site.customer_id,
            data={"site": entry.site_id, "entry": str(entry.pk)},
        )
        entry.delete()
        export_request(entry.site_id)


def expired_entries_remove(now: dt.datetime | None = None) -> int:
    """Delete entries past their expiry: the address is not kept once it is useless."""
    moment = now or timezone.now()
    expired = list(
        AllowEntry.objects.filter(expires_at__lte=moment).values_list("pk", "customer_id")
    )
    with transaction.atomic():
        for pk, customer_id in expired:
            audit_append(
                action="sites.allow_expired",
                actor="system:sites_firewall",
                subject=customer_id,
                data={"entry": str(pk)},
            )
        AllowEntry.objects.filter(pk__in=[pk for pk, _c in expired]).delete()
    return len(expired)


# --- help requests ---------------------------------------------------------------------


def help_request_open(
    *, customer: Customer, about: str, site: Site | None, message: str
) -> HelpRequest:
    if site is not None and site.customer_id != customer.pk:
        raise SitesError(_("Deze site is niet van jou."))
    with transaction.atomic():
        request = HelpRequest(
            customer=customer,
            site=site,
            about=about,
            reference=f"H-{timezone.now():%Y}-{secrets.token_hex(3).upper()}",
            key_period=free_key_period(customer.pk),
        )
        request.message = message
        request.save(force_insert=True)
        audit_append(
            action="sites.help_request_opened",
            actor=f"subject:{customer.pk}",
            subject=customer.pk,
            data={"help_request": str(request.pk), "about": about},
        )
    return request


def help_reply(*, request: HelpRequest, body: str, by: User) -> HelpMessage:
    """A message in the thread: support's answer (mailed; the request waits for the
    customer) or the customer's reply (the request is open again)."""
    if by.is_staff_member:
        if "support" not in by.roles:
            raise SitesError(_("Alleen support beantwoordt hulpvragen."))
        author = HelpMessage.Author.STAFF
    elif by.customer_id == request.customer_id:
        author = HelpMessage.Author.CUSTOMER
    else:
        raise SitesError(_("Deze hulpvraag is niet van jou."))
    if not body.strip():
        raise SitesError(_("Schrijf een bericht."))
    with transaction.atomic():
        locked = HelpRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status == HelpRequest.Status.CLOSED:
            raise SitesError(_("Deze hulpvraag is gesloten."))
        number = (locked.thread.aggregate(n=Max("number"))["n"] or 0) + 1
        message = HelpMessage(
            help_request=locked,
            number=number,
            author=author,
            staff=by if by.is_staff_member else None,
        )
        message.body = body.strip()
        message.save(force_insert=True)
        locked.status = (
            HelpRequest.Status.WAITING if by.is_staff_member else HelpRequest.Status.OPEN
        )
        locked.save(update_fields=["status"])
        audit_append(
            action="sites.help_reply",
            actor=by.actor().ref,
            subject=locked.customer_id,
            data={"help_request": str(locked.pk), "number": number, "author": author},
        )
        if by.is_staff_member:
            from kluis.sites.emails import mail_help_answer

            mail_help_answer(request=locked, message=message)
    return message


def help_request_close(*, request: HelpRequest, by: User) -> None:
    if not (by.is_staff_member or by.customer_id == request.customer_id):
        raise SitesError(_("Deze hulpvraag is niet van jou."))
    with transaction.atomic():
        locked = HelpRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status == HelpRequest.Status.CLOSED:
            raise SitesError(_("Deze hulpvraag is al gesloten."))
        request.status = HelpRequest.Status.CLOSED
        request.closed_at = timezone.now()
        request.save(update_fields=["status", "closed_at"])
        audit_append(
            action="sites.help_request_closed",
            actor=by.actor().ref,
            subject=request.customer_id,
            data={"help_request": str(request.pk)},
        )
        for grant in request.grants.filter(ended_at__isnull=True):
            _grant_close(grant, ended_by="staff" if by.is_staff_member else "customer", by=by)


# --- support grants --------------------------------------------------------------------


def _may_open_grant(staff: User) -> None:
    if not staff.is_staff_member or "support" not in staff.roles:
        raise SitesError(_("Alleen support kan toegang openen."))


def _site_reachable(site: Site) -> None:
    if not site.reachable:
        raise SitesError(_("Deze site is opgeschort of beëindigd; de toegangslijst staat stil."))


def _grant_length(hours: int) -> dt.timedelta:
    length = dt.timedelta(hours=hours)
    if length <= dt.timedelta(0) or length > MAX_GRANT:
        raise SitesError(_("Toegang duurt minstens 1 en hoogstens 8 uur."))
    return length


def _grant_with_entry(
    *,
    site: Site,
    staff: User,
    network: Network,
    valid_from: dt.datetime | None = None,
    **fields: Any,
) -> SupportGrant:
    """The grant and the staff member's address on the site's allowlist until it ends,
    from `valid_from` when it starts later (call inside the caller's transaction)."""
    grant = SupportGrant.objects.create(site=site, staff=staff, **fields)
    entry = AllowEntry(
        site=site,
        customer_id=site.customer_id,
        version=network.version,
        prefix=network.prefixlen,
        label="support",
        valid_from=valid_from,
        expires_at=grant.ends_at,
        grant=grant,
    )
    entry.network = canonical(network)
    entry.save(force_insert=True)
    return grant


def grant_open(
    *,
    help_request: HelpRequest,
    staff: User,
    hours: int,
    staff_address: str,
    now: dt.datetime | None = None,
) -> SupportGrant:
    """Support's time-boxed access to the site of an open help request.

    The customer's request is the consent; the grant names the staff member, runs at
    most MAX_GRANT and puts the staff member's own address on the site's allowlist
    for exactly that time. The customer sees it in the portal and can end it.
    """
    moment = now or timezone.now()
    _may_open_grant(staff)
    site = help_request.site
    if site is None:
        raise SitesError(_("Deze hulpvraag gaat niet over een site."))
    if help_request.status == HelpRequest.Status.CLOSED:
        raise SitesError(_("Deze hulpvraag is gesloten."))
    if site.customer_id != help_request.customer_id:
        raise SitesError(_("Deze site is niet van de klant van deze hulpvraag."))
    _site_reachable(site)
    length = _grant_length(hours)
    network = parse_network(staff_address)
    with transaction.atomic():
        grant = _grant_with_entry(
            site=site,
            staff=staff,
            network=network,
            reason=SupportGrant.Reason.HELP_REQUEST,
            help_request=help_request,
            starts_at=moment,
            ends_at=moment + length,
        )
        audit_append(
            action="sites.grant_opened",
            actor=staff.actor().ref,
            subject=site.customer_id,
            data={
                "site": site.pk,
                "grant": grant.pk,
                "help_request": str(help_request.pk),
                "until": grant.ends_at.isoformat(),
            },
        )
        export_request(grant.site_id)
    return grant


UPDATE_NOTICE = dt.timedelta(hours=24)


def update_grant_schedule(
    *,
    site: Site,
    staff: User,
    starts_at: dt.datetime,
    hours: int,
    note: str,
    staff_address: str,
    now: dt.datetime | None = None,
) -> SupportGrant:
    """Support's access for an update named in advance: the customer is mailed now,
    at least UPDATE_NOTICE before it starts, and can end it before or while it runs."""
    moment = now or timezone.now()
    _may_open_grant(staff)
    _site_reachable(site)
    if starts_at < moment + UPDATE_NOTICE:
        raise SitesError(_("Een update kondigen we minstens 24 uur van tevoren aan."))
    length = _grant_length(hours)
    if not note.strip():
        raise SitesError(_("Zeg welke update het is."))
    network = parse_network(staff_address)
    with transaction.atomic():
        grant = _grant_with_entry(
            site=site,
            staff=staff,
            network=network,
            valid_from=starts_at,
            reason=SupportGrant.Reason.UPDATE,
            note=note.strip()[:200],
            starts_at=starts_at,
            ends_at=starts_at + length,
        )
        audit_append(
            action="sites.grant_scheduled",
            actor=staff.actor().ref,
            subject=site.customer_id,
            data={
                "site": site.pk,
                "grant": grant.pk,
                "from": grant.starts_at.isoformat(),
                "until": grant.ends_at.isoformat(),
            },
        )
        from kluis.sites.emails import mail_update_announced

        mail_update_announced(grant=grant)
        export_request(grant.site_id)
    return grant


def grant_end(*, grant: SupportGrant, by: User, now: dt.datetime | None = None) -> None:
    """End a running grant at once: the customer's or the staff member's choice."""
    if by.is_staff_member:
        if by.pk != grant.staff_id:
            raise SitesError(
                _("Alleen de medewerker zelf of de klant kan deze toegang beëindigen.")
            )
        ended_by = "staff"
    elif by.customer_id == grant.site.customer_id:
        ended_by = "customer"
    else:
        raise SitesError(_("Deze toegang is niet tot jouw site."))
    if grant.ended_at is not None or (now or timezone.now()) >= grant.ends_at:
        raise SitesError(_("Deze toegang is al afgelopen."))
    with transaction.atomic():
        _grant_close(grant, ended_by=ended_by, by=by, now=now)


def _grant_close(
    grant: SupportGrant, *, ended_by: str, by: User, now: dt.datetime | None = None
) -> None:
    grant.ended_at = now or timezone.now()
    grant.ended_by = ended_by
    grant.save(update_fields=["ended_at", "ended_by"])
    AllowEntry.objects.filter(grant=grant).delete()
    audit_append(
        action="sites.grant_ended",
        actor=by.actor().ref,
        subject=grant.site.customer_id,
        data={"site": grant.site_id, "grant": grant.pk, "by": ended_by},
    )
    export_request(grant.site_id)
