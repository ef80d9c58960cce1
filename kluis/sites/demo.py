"""The sites in the demo: one live webshop of the first demo customer."""

from __future__ import annotations

from kluis.accounts.models import Customer
from kluis.shop.testing import make_subscription
from kluis.sites.hosts import names_set
from kluis.sites.models import Site
from kluis.sites.shop_link import site_set_status, sites_sync

DEMO_HOSTS = ["demo-winkel.nl", "www.demo-winkel.nl"]


def sites_demo_load(customer: Customer) -> Site:
    """A delivered webshop package of `customer`, ordered with its domain name, its
    site live, its allowlist empty."""
    subscription = make_subscription(customer, domain="demo-winkel.nl")[0]
    sites_sync()
    site = Site.objects.get(subscription=subscription)
    names_set(site, DEMO_HOSTS, "https://demo-winkel.nl/beheer/")
    site_set_status(site, Site.Status.LIVE, actor="system:demo_data")
    return site
