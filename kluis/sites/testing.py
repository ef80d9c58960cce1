"""Test helpers of the sites: a site of a persona, an entry, a help request, a grant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kluis.accounts.models import Customer, User
from kluis.shop.testing import make_subscription
from kluis.sites.models import (
    AllowEntry,
    HelpAttachment,
    HelpRequest,
    HostingNode,
    Site,
    SupportGrant,
)
from kluis.sites.shop_link import sites_sync

if TYPE_CHECKING:
    from kluis.testing import Personas


def make_site(customer: Customer, hosts: str = "", admin_url: str = "") -> Site:
    """A delivered webshop of `customer`; `hosts` (space-separated) sealed on it."""
    subscription = make_subscription(customer)[0]
    sites_sync()
    site = Site.objects.get(subscription=subscription)
    if hosts or admin_url:
        from kluis.sites.hosts import names_set

        names_set(site, hosts.split(), admin_url)
    return site


def make_node(name: str = "web01", first: int = 8000, last: int = 8099) -> HostingNode:
    """A hosting node with the admin port range first..last."""
    return HostingNode.objects.create(name=name, port_first=first, port_last=last)


def make_entry(site: Site, user: User, text: str = "145.100.10.7") -> AllowEntry:
    from kluis.sites.services import entry_add

    return entry_add(site=site, text=text, label="kantoor", expires_at=None, by=user)


def make_help_request(site: Site) -> HelpRequest:
    from kluis.sites.services import help_request_open

    return help_request_open(
        customer=site.customer, about="site", site=site, message="Mijn winkel is traag."
    )


def make_attachment(
    site: Site, user: User, content: bytes = b"PHP Fatal error: regel 12\n", name: str = "fout.log"
) -> HelpAttachment:
    """A help request of `site` with one text attachment, added by `user` (its customer)."""
    from kluis import uploads
    from kluis.sites.attachments import Attached, attachments_add

    help_request = make_help_request(site)
    clean = uploads.CleanFile(content, uploads.TEXT)
    [made] = attachments_add(request=help_request, files=[Attached(name, clean)], by=user)
    return made


def make_grant(site: Site, staff: User, address: str = "145.100.20.9") -> SupportGrant:
    from kluis.sites.services import grant_open

    return grant_open(
        help_request=make_help_request(site), staff=staff, hours=2, staff_address=address
    )


def site_kwargs(p: Personas) -> dict[str, Any]:
    return {"site_id": make_site(p.customer_a).pk}


def entry_kwargs(p: Personas) -> dict[str, Any]:
    return {"entry_id": make_entry(make_site(p.customer_a), p.alice).pk}


def help_request_kwargs(p: Personas) -> dict[str, Any]:
    return {"request_id": make_help_request(make_site(p.customer_a)).pk}


def grant_kwargs(p: Personas) -> dict[str, Any]:
    return {"grant_id": make_grant(make_site(p.customer_a), p.staff["support"]).pk}


def attachment_kwargs(p: Personas) -> dict[str, Any]:
    return {"attachment_id": make_attachment(make_site(p.customer_a), p.alice).pk}


def node_kwargs(p: Personas) -> dict[str, Any]:
    return {"node_id": make_node(f"web{HostingNode.objects.count() + 1:02d}").pk}
