"""A catalogue price has an upper bound; internationalised domain names where allowed."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from kluis.shop.forms import AddDomainForm, ExtensionForm, ProductForm
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


@pytest.mark.parametrize("form_class", [ProductForm, ExtensionForm])
def test_a_price_above_the_bound_is_refused_by_the_form(catalogue, form_class):
    instance = (
        Product.objects.first() if form_class is ProductForm else DomainExtension.objects.first()
    )
    data = {k: v for k, v in form_class(instance=instance).initial.items() if v is not None}
    data["price_cents"] = MAX_PRICE_CENTS + 1
    form = form_class(data, instance=instance)
    assert not form.is_valid() and "price_cents" in form.errors
    data["price_cents"] = MAX_PRICE_CENTS
    assert form_class(data, instance=instance).is_valid(), form_class(
        data, instance=instance
    ).errors


@pytest.mark.parametrize("model", [Product, DomainExtension])
def test_the_database_refuses_a_price_above_the_bound(catalogue, model):
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.all().update(price_cents=MAX_PRICE_CENTS + 1)
