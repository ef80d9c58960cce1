"""SIDN's legal form: read from the registrant's legal name, checked by the registry."""

from __future__ import annotations

import pytest

from kluis.accounts.models import Customer
from kluis.domains import epp_local
from kluis.domains.epp.client import EppClient, EppCommandFailed
from kluis.domains.models import DomainRegistration
from kluis.domains.registries import SIDN_LEGAL_FORMS, sidn_legal_form
from kluis.domains.services import domain_register
from kluis.domains.tests.test_client import contact
from kluis.domains.tests.test_registration import queued, with_address
from kluis.testing import Personas


@pytest.mark.parametrize(
    ("company", "country", "form"),
    [
        ("", "NL", "PERSOON"),
        ("Visser Webdesign B.V.", "NL", "BV"),
        ("Visser Webdesign BV", "NL", "BV"),
        ("B.V. Visser", "NL", "BV"),
        ("Visser Holding B.V. i.o.", "NL", "BVI/O"),
        ("Visser Holding B.V. in oprichting", "NL", "BVI/O"),
        ("Koninklijke Visser N.V.", "NL", "NV"),
        ("Visser en Zn. V.O.F.", "NL", "VOF"),
        ("Bakkerij Visser C.V.", "NL", "CV"),
        ("Coöperatie De Eendracht U.A.", "NL", "COOP"),
        ("Stichting Vrienden van het Vondelpark", "NL", "STICHTING"),
        ("Vereniging Oud-Amsterdam", "NL", "VERENIGING"),
        ("Maatschap Huisartsen Oost", "NL", "MAATSCHAP"),
        ("Onderlinge Waarborgmaatschappij Zeeland", "NL", "OWM"),
        ("Visser Webdesign", "NL", "ANDERS"),  # the name does not say: ANDERS
        ("CV-Shop", "NL", "ANDERS"),  # a word, not a designation at the end
        ("Visser BVBA", "BE", "BRO"),  # established abroad
    ],
)
def test_the_legal_form_is_read_from_the_legal_name(company: str, country: str, form: str):
    assert sidn_legal_form(company=company, country=country) == form
    assert form in SIDN_LEGAL_FORMS


def as_company(customer: Customer, name: str, kvk: str) -> Customer:
    customer.kind = Customer.Kind.ORGANISATION
    customer.company_name = name
    customer.kvk_number = kvk
    customer.save()
    return customer


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    ("company", "form"),
    [("Visser Webdesign B.V.", "BV"), ("Stichting Vondelpark", "STICHTING"), ("Visser", "ANDERS")],
)
def test_a_company_is_registered_at_sidn_with_its_legal_form_and_kvk_number(
    personas: Personas, registries_local: epp_local.Running, company: str, form: str
) -> None:
    customer = as_company(with_address(personas.customer_a), company, "12345678")
    done = domain_register(registration=queued(customer, "visser-webdesign.nl"))
    assert done.status == DomainRegistration.Status.REGISTERED, done.last_error
    at_sidn = registries_local.registry.contacts[f"KLS-{customer.number}"]
    assert (at_sidn.legal_form, at_sidn.legal_form_reg_no) == (form, "12345678")
    assert at_sidn.org == company
    # Our own admin/tech contact: SinnerG B.V., a BV.
    assert registries_local.registry.contacts["KLS-REGISTRAR"].legal_form == "BV"


def test_the_local_sidn_refuses_a_legal_form_that_is_not_sidns(epp_client: EppClient) -> None:
    with pytest.raises(EppCommandFailed) as refused:
        epp_client.contact_create(contact("KL-LF", legal_form="GMBH", reg_no="12345678"))
    assert refused.value.code == 2005
    assert "legal form" in refused.value.response.explain()
