"""A site's host names and admin address: sealed, revealed for a purpose, found by index.

They name the customer's own website, so they are personal data under the policy's
`kluis.domain_name` (kluis/sites/models.py). What reads them:

- the portal, the REST API and the copy show them to the customer
  (`contract_administration`, the customer as actor);
- the back office writes them when a site is set up, without reading them back;
- the usage ingest maps the host name of a log line to its site through the keyed
  blind index of each name (`HostLookup`), never through a plain host name;
- the firewall export does not need them: it writes per site id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction

from kluis.policy.cases import Case
from kluis.policy.enforce import Actor
from kluis.sites.models import Site, SiteAdminUrl, SiteHost
from kluis.vault.blind import BlindLookup
from kluis.vault.fields import BlindIndexField
from kluis.vault.reveal import reveal_many

PURPOSE = "contract_administration"


@dataclass
class SiteNames:
    """The plain host names and admin address of one site (after a reveal)."""

    hosts: list[str] = field(default_factory=list)
    admin_url: str = ""


def _index() -> BlindIndexField:
    index = SiteHost._meta.get_field("name_index")
    assert isinstance(index, BlindIndexField)
    return index


def host_digest(name: str) -> str:
    """The blind index of a host name, as SiteHost.name_index holds it."""
    return _index().lookup_value(name)


def hosts_taken(names: Iterable[str], *, besides: Site | None = None) -> bool:
    """Whether any of `names` is a host name of another site (looked up by index)."""
    digests = [host_digest(n) for n in names]
    if not digests:
        return False
    taken = SiteHost.objects.filter(name_index__in=digests)
    if besides is not None:
        taken = taken.exclude(site=besides)
    return taken.exists()


def names_set(site: Site, hosts: Sequence[str], admin_url: str) -> None:
    """Replace the site's host names and admin address ("" or [] clears them)."""
    with transaction.atomic():
        SiteHost.objects.filter(site=site).delete()
        rows = []
        for position, name in enumerate(hosts):
            row = SiteHost(site=site, customer_id=site.customer_id, position=position)
            row.name = name
            rows.append(row)
        for row in rows:
            row.save(force_insert=True)
        SiteAdminUrl.objects.filter(site=site).delete()
        if admin_url:
            admin = SiteAdminUrl(site=site, customer_id=site.customer_id)
            admin.url = admin_url
            admin.save(force_insert=True)


def host_count(site: Site) -> int:
    return SiteHost.objects.filter(site=site).count()


def names_of(
    sites: Sequence[Site], *, actor: Actor, purpose: str = PURPOSE, case: Case | None = None
) -> dict[int, SiteNames]:
    """The revealed names of each site (every site gets an entry, empty if none).

    One bulk reveal per kind of row, audited as such; a shredded value is left out.
    """
    result = {site.pk: SiteNames() for site in sites}
    if not sites:
        return result
    hosts = list(SiteHost.objects.filter(site__in=sites).order_by("site_id", "position"))
    if hosts:
        plain = reveal_many(hosts, ["name"], purpose=purpose, actor=actor, case=case)
        for row, opened in zip(hosts, plain, strict=True):
            if opened["name"] is not None:
                result[row.site_id].hosts.append(opened["name"])
    admins = list(SiteAdminUrl.objects.filter(site__in=sites).order_by("site_id"))
    if admins:
        plain = reveal_many(admins, ["url"], purpose=purpose, actor=actor, case=case)
        for admin, opened in zip(admins, plain, strict=True):
            result[admin.site_id].admin_url = opened["url"] or ""
    return result


class HostLookup(BlindLookup[int]):
    """A site id by host name, through the host names' blind index (for the ingest).

    `node`: only the hosts of the sites on that hosting node (a node's own logs name no
    other node's sites); None: every site's."""

    def __init__(self, node: int | None = None) -> None:
        hosts = SiteHost.objects.exclude(name_index=None)
        if node is not None:
            hosts = hosts.filter(site__node_id=node)
        super().__init__("text", dict(hosts.values_list("name_index", "site_id")))
