"""Template tags of the sites, for pages of other apps ("Mijn gegevens")."""

from __future__ import annotations

from django import template
from django.db.models import QuerySet

from kluis.accounts.models import Customer
from kluis.sites.models import SupportGrant

register = template.Library()


@register.simple_tag
def support_grants(customer: Customer) -> QuerySet[SupportGrant]:
    """Every support grant on the customer's sites, newest first."""
    return SupportGrant.objects.filter(site__customer=customer).select_related("help_request")
