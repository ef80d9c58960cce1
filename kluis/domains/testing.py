"""Test helpers of the domains app: a failed registration of Alice's, for the harness."""

from __future__ import annotations

from typing import Any

from kluis.domains.models import DomainRegistration
from kluis.domains.services import registrations_queue
from kluis.shop.models import Order
from kluis.shop.testing import make_order
from kluis.testing import Personas


def failed_registration_kwargs(p: Personas) -> dict[str, Any]:
    order = make_order(p.customer_a, status=Order.Status.IN_PROGRESS, domain="alice-harness.nl")
    (registration,) = registrations_queue(order=order)
    DomainRegistration.objects.filter(pk=registration.pk).update(
        status=DomainRegistration.Status.FAILED, last_error="SIDN: 2400 Command failed"
    )
    return {"registration_id": registration.pk}


def registered_domain_kwargs(p: Personas) -> dict[str, Any]:
    """A domain of Alice's, registered at SIDN, for the portal's pages."""
    import datetime as dt

    order = make_order(p.customer_a, status=Order.Status.IN_PROGRESS, domain="alice-portaal.nl")
    (registration,) = registrations_queue(order=order)
    DomainRegistration.objects.filter(pk=registration.pk).update(
        status=DomainRegistration.Status.REGISTERED,
        expires_on=dt.date(2027, 12, 5),
        nameservers=["ns1.winkeltjes.net", "ns2.winkeltjes.net"],
    )
    return {"registration_id": registration.pk}


def registered_at_registry_kwargs(p: Personas) -> dict[str, Any]:
    """A domain of Alice's, registered for real at the configured registry (in tests the
    local EPP server, kluis/domains/tests/conftest.py `registries_local`)."""
    from kluis.domains.services import registrations_run

    customer = p.customer_a
    customer.address_street = "Keizersgracht 1"
    customer.address_postcode = "1015CD"
    customer.address_city = "Amsterdam"
    customer.save()
    order = make_order(customer, status=Order.Status.IN_PROGRESS, domain="alice-registry.nl")
    (registration,) = registrations_queue(order=order)
    outcome = registrations_run()
    assert outcome.startswith("1 registered"), outcome
    return {"registration_id": registration.pk}


def check_data(p: Personas) -> dict[str, Any]:
    """A name to check, in an extension the shop sells."""
    from kluis.shop.catalogue import catalogue_load

    catalogue_load()
    return {"label": "alice-nieuw", "tld": "nl"}
