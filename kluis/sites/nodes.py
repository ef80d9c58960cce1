"""Hosting nodes: which node a site lives on, and the admin ports of a node's range.

A port belongs to at most one site of a node that has not ended (the database's
`sites_admin_port_per_node`); sites on different nodes may share one, since every node
loads only its own ruleset. The sites not placed on a node share the top directory's
ruleset, so among them a port is unique as before (`sites_admin_port_once`).
"""

from __future__ import annotations

from django.db import transaction

from kluis.audit.chain import audit_append
from kluis.sites.models import SHARED_PORTS, HostingNode, Site


def ports_taken(node: HostingNode | None, *, besides: Site | None = None) -> set[int]:
    """The admin ports of `node`'s sites that have not ended (None: the unplaced sites)."""
    sites = Site.objects.exclude(status=Site.Status.ENDED).exclude(admin_port=None)
    sites = sites.filter(node=node) if node is not None else sites.filter(node__isnull=True)
    if besides is not None:
        sites = sites.exclude(pk=besides.pk)
    return {port for port in sites.values_list("admin_port", flat=True) if port is not None}


def port_owner(node: HostingNode | None, port: int, *, besides: Site) -> int | None:
    """The site of `node` (not ended) that has `port` already, other than `besides`."""
    sites = Site.objects.filter(admin_port=port).exclude(status=Site.Status.ENDED)
    sites = sites.filter(node=node) if node is not None else sites.filter(node__isnull=True)
    return sites.exclude(pk=besides.pk).values_list("pk", flat=True).first()


def next_free_port(node: HostingNode, *, besides: Site | None = None) -> int | None:
    """The lowest port of the node's range that no other site of it has; None if full."""
    taken = ports_taken(node, besides=besides)
    for port in range(node.port_first, node.port_last + 1):
        if port not in taken and port not in SHARED_PORTS:
            return port
    return None


def port_on(node: HostingNode, site: Site) -> int | None:
    """The port a site with a port of its own gets on `node`: the one it has if the
    node's range holds it and it is free there, else the node's next free one (None:
    the range is full, the site has no port until orders give it one)."""
    port = site.admin_port
    if port is not None and node.holds(port) and port not in ports_taken(node, besides=site):
        return port
    return next_free_port(node, besides=site)


def site_node_set(site: Site, node: HostingNode, *, actor: str) -> tuple[int | None, int | None]:
    """Place `site` on `node`, in one transaction, audited (`sites.site_node`); returns the
    port before and after.

    A site with an admin port keeps it when the new node's range holds it and no site
    there has it, and otherwise gets the node's next free port (or none, if the range
    is full): a port of the old node means nothing on the new one. The whole export is
    asked for, so the site leaves the old node's files as it enters the new one's.
    """
    from kluis.sites.firewall import export_request

    before_node, before_port = site.node_id, site.admin_port
    with transaction.atomic():
        port = port_on(node, site) if before_port is not None else None
        site.node = node
        site.admin_port = port
        site.save(update_fields=["node", "admin_port"])
        audit_append(
            action="sites.site_node",
            actor=actor,
            subject=site.customer_id,
            data={
                "site": site.pk,
                "from": before_node,
                "to": node.pk,
                "port_from": before_port,
                "port_to": port,
            },
        )
        export_request(None)
    return before_port, port
