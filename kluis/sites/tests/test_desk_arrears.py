"""The sites desk shows which live sites belong to a customer far behind on an invoice
(with the debt collector, or unpaid after the statutory letter); nothing suspends by
itself."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kluis.billing import dunning
from kluis.billing.models import CollectionHandover, Invoice
from kluis.billing.testing import invoice_through_reminders
from kluis.sites.models import Site
from kluis.sites.testing import make_site
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")

LETTER = "onbetaald na de veertiendagenbrief"
COLLECTOR = "factuur bij het incassobureau"


def _desk(client, staff) -> str:
    log_in(client, staff)
    return client.get(reverse("sites_backoffice:desk")).content.decode()


def _badge(page: str, site: Site) -> str:
    start = page.find(f'data-arrears="{site.pk}"')
    return "" if start < 0 else page[start : page.find("</span>", start)]


def test_the_desk_marks_live_sites_of_customers_behind_after_the_letter_or_with_the_collector(
    client, personas
):
    site = make_site(personas.customer_a)
    other = make_site(personas.customer_b)
    Site.objects.filter(pk__in=[site.pk, other.pk]).update(status=Site.Status.LIVE)
    finance = personas.staff["finance"]
    assert _badge(_desk(client, finance), site) == ""
    # Reminders, the statutory letter and its term have passed unpaid.
    invoice = invoice_through_reminders(personas.customer_a)
    page = _desk(client, finance)
    assert LETTER in _badge(page, site)
    assert _badge(page, other) == ""
    # Handed to the collector (four-eyes).
    handover = dunning.collections_propose(invoice=invoice, by=finance)
    dunning.collections_decide(handover=handover, by=make_staff(roles=["finance"]), approve=True)
    assert COLLECTOR in _badge(_desk(client, personas.staff["support"]), site)
    # Suspended by staff: no longer a live site to decide on.
    Site.objects.filter(pk=site.pk).update(status=Site.Status.SUSPENDED)
    assert _badge(_desk(client, finance), site) == ""
    # Live again and the invoice paid: nothing to say.
    Site.objects.filter(pk=site.pk).update(status=Site.Status.LIVE)
    Invoice.objects.filter(pk=invoice.pk).update(paid_cents=invoice.total_cents)
    assert _badge(_desk(client, finance), site) == ""
    assert CollectionHandover.objects.get().status == CollectionHandover.Status.APPROVED
