"""Hosted webshops and websites, their admin allowlists, support access, help requests.

A site is a delivered webshop or website package (kluis/sites/shop_link.py makes one
per such subscription). The addresses on its admin allowlist are the customer's
personal data: sealed under the policy's `user.device.ip_address` category and
revealed only for `admin_access` (the firewall export, the customer themself).

A site's host names and admin address name the customer's own website (janjansen.nl):
they are sealed under `kluis.domain_name`, like the domain names of orders, on rows of
their own (SiteHost, SiteAdminUrl), revealed for `contract_administration`. Each host
name has a keyed blind index, so the usage ingest finds a site by the host name of a
log line without any host name in plain text.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import ClassVar, TypeVar

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kluis.accounts.models import Customer, User
from kluis.shop.models import Subscription
from kluis.vault.fields import BlindIndexField, SealedField, SealedFileField, SealedModel

MAX_PORT = 65535
# The web ports every hosted site shares: an admin there is closed per site in nginx
# (the firewall cannot tell the sites apart by port), so no site has one as its own.
SHARED_PORTS = (80, 443)
# A node's name is its directory in the firewall export (nodes/<name>/): lower-case
# letters, digits and hyphens, as in a host name's first label ("web01").
NODE_NAME = r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$"


class HostingNode(models.Model):
    """A server that hosts sites: its name, and the range its sites' admin ports come from.

    Each node loads only its own ruleset and includes (`nodes/<name>/` of the firewall
    export, or `GET /api/v1/nodes/firewall` with a token bound to it), so a port is
    unique per node, not across nodes. An inactive node keeps its sites and its export
    but is not offered for new placements. A node that is `switching` has its sites in
    the top directory as well.
    """

    name = models.CharField(_("naam"), max_length=32, unique=True)
    port_first = models.PositiveIntegerField(_("eerste beheerpoort"))
    port_last = models.PositiveIntegerField(_("laatste beheerpoort"))
    active = models.BooleanField(_("in gebruik"), default=True)
    # Being switched over from the export's top directory: its sites are written to the
    # top directory too (as well as to nodes/<name>/), so the machine that still loads
    # the top directory keeps closing their admin ports, until orders staff confirm on
    # the nodes desk that it loads its own directory (kluis.sites.nodes.node_switched).
    # Meanwhile a port of its sites is unique among all the top directory's sites.
    switching = models.BooleanField(_("wordt overgezet"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    port_first__gte=1,
                    port_last__lte=MAX_PORT,
                    port_first__lte=models.F("port_last"),
                ),
                name="sites_node_port_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def holds(self, port: int) -> bool:
        return self.port_first <= port <= self.port_last


class Site(models.Model):
    class Status(models.TextChoices):
        SETUP = "setup", _("wordt ingericht")
        LIVE = "live", _("live")
        SUSPENDED = "suspended", _("opgeschort")
        ENDED = "ended", _("beëindigd")

    class Kind(models.TextChoices):
        WEBSHOP = "webshop", _("webwinkel")
        WEBSITE = "website", _("website")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="sites")
    subscription = models.OneToOneField(Subscription, on_delete=models.PROTECT, related_name="site")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # Host names and the admin address are sealed: SiteHost and SiteAdminUrl.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SETUP)
    status_changed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    # The TCP port the site's admin listens on, when it has one of its own: the firewall
    # export closes that port to every address not on the site's allowlist. Empty: the
    # admin is behind the shared 443 (closed per site in nginx) or not set up yet.
    admin_port = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_PORT)],
    )
    # The hosting node the site lives on; empty: not placed yet (the export's top
    # directory and a token bound to no node, as before nodes were known).
    node = models.ForeignKey(
        HostingNode, null=True, blank=True, on_delete=models.PROTECT, related_name="sites"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # One port, one site, per node: the rules of a port accept the sets of its
            # sites, so two sites on a port of one node would each open the other's
            # admin. Sites on different nodes may share a port (each node loads its own
            # ruleset); sites not placed on a node share one ruleset, so one range.
            models.UniqueConstraint(
                fields=["node", "admin_port"],
                condition=models.Q(node__isnull=False) & ~models.Q(status="ended"),
                name="sites_admin_port_per_node",
            ),
            models.UniqueConstraint(
                fields=["admin_port"],
                condition=models.Q(node__isnull=True) & ~models.Q(status="ended"),
                name="sites_admin_port_once",
            ),
            # An ended site's port is freed when it ends (kluis/sites/shop_link.py).
            models.CheckConstraint(
                condition=~models.Q(status="ended") | models.Q(admin_port__isnull=True),
                name="sites_ended_no_port",
            ),
            models.CheckConstraint(
                condition=models.Q(admin_port__isnull=True)
                | (
                    models.Q(admin_port__gte=1, admin_port__lte=MAX_PORT)
                    & ~models.Q(admin_port__in=SHARED_PORTS)
                ),
                name="sites_admin_port_range",
            ),
        ]

    def __str__(self) -> str:
        return f"site {self.pk} of {self.customer_id}"

    @property
    def reachable(self) -> bool:
        """Whether its admin allowlist is exported at all (otherwise: deny all)."""
        return self.status in (self.Status.SETUP, self.Status.LIVE)


class SiteHost(SealedModel):
    """One host name of a site (shop.example.nl), sealed, with its blind index."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="host_rows")
    # The site's customer, kept on the row: the vault subject without a join.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    name = SealedField(_("hostnaam van een site"), category="kluis.domain_name")
    name_index = BlindIndexField(source="name")

    vault_subject_field: ClassVar[str] = "customer_id"

    class Meta:
        ordering = ["site", "position"]
        constraints = [
            models.UniqueConstraint(fields=["site", "position"], name="sites_host_position")
        ]

    def __str__(self) -> str:
        return f"host {self.position} of site {self.site_id}"


class SiteAdminUrl(SealedModel):
    """The address of a site's admin environment (https on one of its host names), sealed."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="admin_url_row")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    url = SealedField(_("adres van de beheeromgeving"), category="kluis.domain_name")

    vault_subject_field: ClassVar[str] = "customer_id"

    def __str__(self) -> str:
        return f"admin address of site {self.site_id}"


class AllowEntryQuerySet(models.QuerySet["AllowEntry"]):
    def current(self, now: object | None = None) -> AllowEntryQuerySet:
        moment = now or timezone.now()
        return self.filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=moment),
            models.Q(valid_from__isnull=True) | models.Q(valid_from__lte=moment),
        )


class AllowEntry(SealedModel):
    """One address or range on a site's admin allowlist."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="allow_entries")
    # The site's customer, kept on the row: the vault subject without a join.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    network = SealedField(_("IP-adres of reeks"), category="user.device.ip_address")
    # 4 or 6 and the prefix length: the size of the list without the addresses.
    version = models.PositiveSmallIntegerField()
    prefix = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=80, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Only a scheduled update's grant starts later than it is made.
    valid_from = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set for the entry a support grant adds; it leaves with the grant.
    grant = models.OneToOneField(
        "SupportGrant",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="allow_entry",
    )

    objects = AllowEntryQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    vault_subject_field: ClassVar[str] = "customer_id"

    def __str__(self) -> str:
        return f"allow entry {self.pk} of site {self.site_id}"


HELP_KEY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def new_help_key_period() -> str:
    """A help request's own key period: "h" and 35 random bits, never all digits (so
    never taken for a fiscal year) and short enough for the keystore's period column."""
    return "h" + "".join(secrets.choice(HELP_KEY_ALPHABET) for _ in range(7))


class HelpRequest(SealedModel):
    """A customer's request for help, from the portal; the reason staff may log in.

    The request, its messages and its attachments are sealed under a key of their own:
    the customer's, in the `contact_message` category's class, with the request's
    `key_period` as the scope's period. The retention sweep shreds that key (and
    deletes the rows) when the request has been closed for the class's period; the
    customer's other requests keep their keys.
    """

    class About(models.TextChoices):
        SITE = "site", _("een webwinkel of website")
        DOMAIN = "domain", _("een domeinnaam")
        INVOICE = "invoice", _("een factuur")
        ACCOUNT = "account", _("je account")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        WAITING = "waiting", _("wacht op jou")
        CLOSED = "closed", _("gesloten")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="help_requests")
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="help_requests"
    )
    reference = models.CharField(max_length=20, unique=True)
    about = models.CharField(max_length=8, choices=About.choices)
    message = SealedField(_("je vraag"), category="kluis.contact_message")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The period of this request's key scope (unique per customer, never reused).
    key_period = models.CharField(max_length=8, default=new_help_key_period, editable=False)

    vault_subject_field: ClassVar[str] = "customer_id"
    vault_row_period: ClassVar[bool] = True

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "key_period"], name="sites_help_key_period")
        ]

    def __str__(self) -> str:
        return self.reference

    def vault_period(self, retention_class: str) -> str:
        return self.key_period


_InThread = TypeVar("_InThread", bound=models.Model)


class WithHelpRequest(models.Manager[_InThread]):
    """Rows that load their request along: their key period is the request's, and the
    vault's generic walks (the sweep, a person's holdings) ask it of every row."""

    def get_queryset(self) -> models.QuerySet[_InThread]:
        return super().get_queryset().select_related("help_request")


class HelpMessage(SealedModel):
    """A later message in a help request's thread: the customer's or support's answer."""

    class Author(models.TextChoices):
        CUSTOMER = "customer", _("jij")
        STAFF = "staff", _("support")

    help_request = models.ForeignKey(HelpRequest, on_delete=models.CASCADE, related_name="thread")
    number = models.PositiveIntegerField()
    author = models.CharField(max_length=8, choices=Author.choices)
    staff = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    body = SealedField(_("bericht"), category="kluis.contact_message")
    at = models.DateTimeField(default=timezone.now)

    objects = WithHelpRequest["HelpMessage"]()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["help_request", "number"], name="sites_message_number")
        ]

    vault_row_period: ClassVar[bool] = True

    def __str__(self) -> str:
        return f"message {self.number} of {self.help_request_id}"

    def vault_period(self, retention_class: str) -> str:
        return self.help_request.key_period

    def vault_subject(self) -> uuid.UUID:
        return self.help_request.customer_id

    @classmethod
    def vault_subject_q(cls, subject: uuid.UUID) -> models.Q:
        return models.Q(help_request__customer_id=subject)


class HelpAttachment(SealedModel):
    """A file the customer attached to a help request (a screenshot, a log, a scan).

    Checked by its content and cleaned (kluis/uploads.py), sealed under the request's
    own key with its messages (`kluis.contact_message`), so it is kept, swept and
    erased with them; deleted with its request.
    """

    help_request = models.ForeignKey(
        HelpRequest, on_delete=models.CASCADE, related_name="attachments"
    )
    # The customer, kept on the row: the vault subject without a join.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()
    # The name the file had on the customer's computer can say who they are: sealed.
    name = SealedField(_("naam van de bijlage"), category="kluis.contact_message")
    content = SealedFileField(_("bijlage bij je hulpvraag"), category="kluis.contact_message")
    mimetype = models.CharField(max_length=30)
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(default=timezone.now)

    objects = WithHelpRequest["HelpAttachment"]()

    vault_subject_field: ClassVar[str] = "customer_id"
    vault_row_period: ClassVar[bool] = True

    class Meta:
        ordering = ["help_request", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["help_request", "number"], name="sites_attachment_number"
            )
        ]

    def __str__(self) -> str:
        return f"attachment {self.number} of {self.help_request_id}"

    def vault_period(self, retention_class: str) -> str:
        return self.help_request.key_period


class SupportGrant(models.Model):
    """Time-boxed access of one named staff member to one site's admin environment."""

    class Reason(models.TextChoices):
        HELP_REQUEST = "help_request", _("je hulpvraag")
        UPDATE = "update", _("een aangekondigde update")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="grants")
    staff = models.ForeignKey(User, on_delete=models.PROTECT, related_name="support_grants")
    reason = models.CharField(max_length=12, choices=Reason.choices)
    # SET_NULL: the retention sweep may delete the request before the grant's record.
    help_request = models.ForeignKey(
        HelpRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="grants"
    )
    # For an update: what is updated, as announced to the customer (no personal data).
    note = models.CharField(max_length=200, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=10, blank=True)  # "customer" or "staff"
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="sites_grant_period"
            )
        ]

    def __str__(self) -> str:
        return f"grant {self.pk} on site {self.site_id}"

    def is_running(self, now: dt.datetime | None = None) -> bool:
        moment = now or timezone.now()
        return self.ended_at is None and self.starts_at <= moment < self.ends_at

    @property
    def until(self) -> dt.datetime:
        return self.ended_at or self.ends_at


class FirewallExport(models.Model):
    """The outcome of one firewall export: what the sites desk shows as the last result."""

    at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    sites = models.PositiveIntegerField(default=0)
    entries = models.PositiveIntegerField(default=0)
    files_written = models.PositiveIntegerField(default=0)
    reload_outcome = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"firewall export {self.at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'failed'}"


class FirewallExportRequest(models.Model):
    """A change the firewall files must take up: written in the change's own transaction,
    so none is lost; the worker claims the waiting ones, exports and deletes them."""

    at = models.DateTimeField(default=timezone.now)
    # The site whose allowlist changed; empty: every site (a whole export).
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"firewall export request {self.pk}"


class FirewallVersion(models.Model):
    """One row: a random token that changes with every change of a site or an allowlist
    entry (kluis/sites/firewall.py `firewall_changed`, in the change's own transaction).

    The API's firewall fetch keeps its ETag for as long as this token stays and no entry
    starts or ends, so an unchanged poll reads one row instead of every entry's id. A
    token, not a counter: a rolled-back change can never bring back a value that was
    already seen with other contents.
    """

    version = models.CharField(max_length=32, default="")

    def __str__(self) -> str:
        return f"firewall version {self.version}"
