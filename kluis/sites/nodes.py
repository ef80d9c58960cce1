"""Hosting nodes: which node a site lives on, and the admin ports of a node's range.

A port belongs to at most one site of a node that has not ended (the database's
`sites_admin_port_per_node`); sites on different nodes may share one, since every node
loads only its own ruleset. The sites not placed on a node share the top directory's
ruleset, so among them a port is unique as before (`sites_admin_port_once`). A node
being switched over (`HostingNode.switching`) has its sites in the top directory too:
their ports are unique among all the top directory's sites, checked here with the rows
of the nodes being switched locked first (`_top_locked`), since no constraint of the
database can look at another table.

That a site's port lies within its node's range is not a database constraint (a CHECK
cannot look at another table, and kluis uses no triggers); it holds because every write
of it goes through this module with the node's row locked (`select_for_update`):
`site_port_set` and `site_node_set` lock it while they give a port, `node_save` while
it changes the range and looks at the ports of the node's sites. Whichever comes second
waits for the first and sees what it wrote, so a port set as the range narrows cannot
end up outside it.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from kluis.audit.chain import audit_append
from kluis.sites.models import SHARED_PORTS, HostingNode, Site


class PortTaken(IntegrityError):
    """A port another site has in a ruleset the site is written to (the top directory's
    holds the sites on no node and those of the nodes being switched over), found with
    the rows locked; an IntegrityError like the one the database's own unique
    constraints raise, so a caller handles both alike."""

    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} taken")
        self.port = port


class PortOutsideRange(ValueError):
    """A port outside the range of its node: `ports` are the ones that do not fit."""

    def __init__(self, node: HostingNode, ports: list[int]) -> None:
        super().__init__(f"ports {ports} outside {node.port_first}-{node.port_last}")
        self.node, self.ports = node, ports


def _locked(site: Site) -> HostingNode | None:
    """Lock the site's row, then its node's (in that order, everywhere), and return the
    node as it is now; the site's `node_id` and `admin_port` are refreshed from its
    locked row."""
    row = Site.objects.select_for_update().values("node_id", "admin_port").get(pk=site.pk)
    node_id: int | None = row["node_id"]
    site.node_id, site.admin_port = node_id, row["admin_port"]
    if node_id is None:
        return None
    return HostingNode.objects.select_for_update().get(pk=node_id)


def _top_locked() -> None:
    """Lock the rows of the nodes being switched over (by id, before any site's row): a
    port given in the top directory's ruleset, to a site on no node or on such a node,
    is checked against all of them, so two such writes take turns."""
    list(HostingNode.objects.select_for_update().filter(switching=True).order_by("pk"))


def _ruleset_sites(node: HostingNode | None) -> QuerySet[Site]:
    """The sites whose admin port shares a ruleset with those of `node`: the node's own;
    for no node, and for a node being switched over, all the top directory's (the sites
    on no node and on the nodes being switched), which the machines that still load the
    top directory all load."""
    if node is not None and not node.switching:
        return Site.objects.filter(node=node)
    return Site.objects.filter(Q(node__isnull=True) | Q(node__switching=True))


def ports_taken(
    node: HostingNode | None, *, besides: Site | None = None, own: bool = False
) -> set[int]:
    """The admin ports of the sites that have not ended and share a ruleset with `node`'s
    (None: the unplaced sites), see `_ruleset_sites`; `own`: of the node's own sites only
    (what its range must hold)."""
    sites = Site.objects.filter(node=node) if own else _ruleset_sites(node)
    sites = sites.exclude(status=Site.Status.ENDED).exclude(admin_port=None)
    if besides is not None:
        sites = sites.exclude(pk=besides.pk)
    return {port for port in sites.values_list("admin_port", flat=True) if port is not None}


def port_owner(node: HostingNode | None, port: int, *, besides: Site) -> int | None:
    """The site (not ended) sharing a ruleset with `node`'s that has `port` already, other
    than `besides`."""
    sites = _ruleset_sites(node).filter(admin_port=port).exclude(status=Site.Status.ENDED)
    return sites.exclude(pk=besides.pk).values_list("pk", flat=True).first()


def next_free_port(node: HostingNode, *, besides: Site | None = None) -> int | None:
    """The lowest port of the node's range that no other site of it has; None if full."""
    taken = ports_taken(node, besides=besides)
    for port in range(node.port_first, node.port_last + 1):
        if port not in taken and port not in SHARED_PORTS:
            return port
    return None


def port_on(node: HostingNode | None, site: Site) -> int | None:
    """The port a site with a port of its own gets on `node`: the one it has if the
    node's range holds it and it is free there, else the node's next free one (None:
    the range is full, the site has no port until orders give it one). On no node
    (None): the one it has if no other site on no node has it, else none (the sites on
    no node have no range to give one from)."""
    port = site.admin_port
    if node is None:
        return port if port is not None and port not in ports_taken(None, besides=site) else None
    if port is not None and node.holds(port) and port not in ports_taken(node, besides=site):
        return port
    return next_free_port(node, besides=site)


def site_node_set(
    site: Site, node: HostingNode | None, *, actor: str
) -> tuple[int | None, int | None]:
    """Place `site` on `node` (None: back on no node), in one transaction, audited
    (`sites.site_node`); returns the port before and after.

    A site with an admin port keeps it when the new node's range holds it and no site
    there has it, and otherwise gets the node's next free port (or none, if the range
    is full): a port of the old node means nothing on the new one. The whole export is
    asked for, so the site leaves the old node's files as it enters the new one's.
    """
    from kluis.sites.firewall import export_request

    with transaction.atomic():
        _top_locked()
        _locked(site)
        before_node, before_port = site.node_id, site.admin_port
        if node is not None:
            node = HostingNode.objects.select_for_update().get(pk=node.pk)
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
                "to": node.pk if node is not None else None,
                "port_from": before_port,
                "port_to": port,
            },
        )
        export_request(None)
    return before_port, port


def site_port_set(site: Site, port: int | None, *, actor: str) -> None:
    """Set or clear the site's admin port, in one transaction, audited
    (`sites.site_admin_port`), with the export of the site asked for.

    Raises PortOutsideRange when the site's node (as locked now, not as a form saw it)
    does not hold the port, and IntegrityError when a site of the node has it.
    """
    from kluis.sites.firewall import export_request

    with transaction.atomic():
        _top_locked()
        node = _locked(site)
        before = site.admin_port
        if node is not None and port is not None and not node.holds(port):
            raise PortOutsideRange(node, [port])
        if port is not None and port_owner(node, port, besides=site) is not None:
            # Also across the top directory's sites, which no database constraint holds.
            raise PortTaken(port)
        site.admin_port = port
        site.save(update_fields=["admin_port"])
        audit_append(
            action="sites.site_admin_port",
            actor=actor,
            subject=site.customer_id,
            data={"site": site.pk, "from": before, "to": port},
        )
        export_request(site.pk)


def node_save(node: HostingNode) -> None:
    """Save a new or edited node; an edited one with its row locked first, so no port is
    given on it meanwhile. Raises PortOutsideRange (and saves nothing) when a site of the
    node that has not ended has a port outside the new range."""
    with transaction.atomic():
        if node.pk is not None:
            HostingNode.objects.select_for_update().filter(pk=node.pk).first()
        node.save()
        outside = sorted(p for p in ports_taken(node, own=True) if not node.holds(p))
        if outside:
            raise PortOutsideRange(node, outside)


def node_switched(node: HostingNode, *, actor: str) -> bool:
    """Orders staff confirm that the node's machine loads its own directory
    (`nodes/<name>/`) and uses its own token: its sites leave the top directory at the
    next export (asked for here), audited (`sites.node_switched`). False if the node was
    not being switched (nothing done)."""
    from kluis.sites.firewall import export_request

    with transaction.atomic():
        locked = HostingNode.objects.select_for_update().get(pk=node.pk)
        if not locked.switching:
            return False
        locked.switching = False
        locked.save(update_fields=["switching"])
        sites = list(locked.sites.exclude(status=Site.Status.ENDED).values_list("pk", flat=True))
        audit_append(
            action="sites.node_switched",
            actor=actor,
            data={"node": locked.pk, "name": locked.name, "sites": sorted(sites)},
        )
        export_request(None)
    node.switching = False
    return True
