"""A catalogue price has an upper bound; internationalised domain names where allowed."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from kluis.shop.forms import AddDomainForm, ExtensionForm, PriceChangeForm, ProductForm
from kluis.shop.models import MAX_PRICE_CENTS, DomainExtension, Product

pytestmark = pytest.mark.django_db(databases="__all__")


def _domain(label: str, tld: str) -> AddDomainForm:
    form = AddDomainForm({"label": label, "tld": tld})
    form.is_valid()
    return form


@pytest.mark.parametrize(
    ("label", "tld", "domain"),
    [
        ("bücher", "de", "xn--bcher-kva.de"),  # typed as a U-label
        ("xn--bcher-kva", "de", "xn--bcher-kva.de"),  # typed as the A-label
        ("BÜCHER", "de", "xn--bcher-kva.de"),
        ("café-de-flore", "be", "xn--caf-de-flore-deb.be"),
        ("keesjansen", "nl", "keesjansen.nl"),
    ],
)
def test_an_internationalised_name_is_taken_where_the_registry_allows_it(
    catalogue, label, tld, domain
):
    form = _domain(label, tld)
    assert not form.errors, form.errors
    assert form.domain == domain


def test_sidn_takes_no_internationalised_names_for_nl(catalogue):
    assert not DomainExtension.objects.get(tld="nl").idn
    for label in ("bücher", "xn--bcher-kva"):
        form = _domain(label, "nl")
        assert "label" in form.errors and ".nl" in form.errors["label"][0]


@pytest.mark.parametrize(
    "label",
    [
        "xn--zz",  # not valid punycode
        "ab--cd",  # hyphens in the third and fourth place are reserved for xn--
        "-kees",
        "p\u0430ypal",  # a Cyrillic a among Latin letters: a spoof
        "kees\u202ejansen",
        "kees.jansen",
        "<b>kees</b>",
    ],
)
def test_what_no_registry_takes_is_refused(catalogue, label):
    assert "label" in _domain(label, "com").errors


def test_a_price_above_the_bound_is_refused_by_the_form(catalogue):
    instance = Product.objects.first()
    data = {k: v for k, v in ProductForm(instance=instance).initial.items() if v is not None}
    data["price_cents"] = MAX_PRICE_CENTS + 1
    form = ProductForm(data, instance=instance)
    assert not form.is_valid() and "price_cents" in form.errors
    data["price_cents"] = MAX_PRICE_CENTS
    assert ProductForm(data, instance=instance).is_valid()


def test_a_new_price_above_the_bound_is_refused_by_the_price_change_form(catalogue):
    # An existing package or extension changes its price only through a price change.
    assert "price_cents" not in ExtensionForm().fields
    too_high = PriceChangeForm({"new_price": "10000.01", "effective_on": "2099-01-01"})
    assert not too_high.is_valid()
    assert "hoogstens € 10.000,00" in str(too_high.errors["new_price"])
    highest = PriceChangeForm({"new_price": "10000.00", "effective_on": "2099-01-01"})
    assert highest.is_valid() and highest.new_price_cents == MAX_PRICE_CENTS


@pytest.mark.parametrize("model", [Product, DomainExtension])
def test_the_database_refuses_a_price_above_the_bound(catalogue, model):
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.all().update(price_cents=MAX_PRICE_CENTS + 1)
