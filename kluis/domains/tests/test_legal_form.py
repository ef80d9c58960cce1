"""SIDN's legal form: read from the registrant's legal name, checked by the registry."""

from __future__ import annotations

import pytest
from django.utils import timezone

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


def test_every_legal_form_a_customer_can_choose_is_one_of_sidns() -> None:
    from kluis.accounts.models import LegalForm
    from kluis.domains.registries import SIDN_BY_CHOICE

    assert set(SIDN_BY_CHOICE) == set(LegalForm.values)
    assert set(SIDN_BY_CHOICE.values()) <= SIDN_LEGAL_FORMS


@pytest.mark.parametrize(
    ("company", "chosen", "form"),
    [
        ("Visser Webdesign", "eenmanszaak", "EENMANSZAAK"),  # the name says nothing
        ("Visser en Visser", "vof", "VOF"),
        ("Bakkerij Visser", "cv", "CV"),
        ("Visser Webdesign B.V.", "", "BV"),  # nothing chosen: read from the name
        ("Visser Webdesign", "", "ANDERS"),  # nothing known at all
        ("Visser BVBA", "bv", "BRO"),  # established abroad (country BE below)
    ],
)
def test_the_legal_form_the_customer_chose_goes_before_the_name(
    company: str, chosen: str, form: str
) -> None:
    country = "BE" if company.endswith("BVBA") else "NL"
    assert sidn_legal_form(company=company, country=country, chosen=chosen) == form


@pytest.mark.django_db(databases="__all__")
def test_a_business_customer_chooses_its_legal_form_in_the_account_and_sidn_gets_it(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    from django.test import Client
    from django.urls import reverse
    from django.utils import translation

    from kluis.audit.models import AuditEntry
    from kluis.testing import log_in

    customer = as_company(with_address(personas.customer_a), "Visser Webdesign", "12345678")
    translation.activate("nl")
    client = Client()
    log_in(client, personas.alice)
    url = reverse("accounts:legal-form")
    assert "Rechtsvorm van je organisatie" in client.get(url).content.decode()
    refused = client.post(url, {"legal_form": "gmbh"})
    assert refused.status_code == 400
    done = client.post(url, {"legal_form": "eenmanszaak"}, follow=True)
    assert "Je rechtsvorm is opgeslagen." in done.content.decode()
    assert "eenmanszaak" in client.get(reverse("accounts:settings")).content.decode()
    customer.refresh_from_db()
    assert customer.legal_form == "eenmanszaak"
    assert AuditEntry.objects.filter(action="accounts.legal_form_set").count() == 1

    registration = domain_register(registration=queued(customer, "visser-eenmanszaak.nl"))
    assert registration.status == DomainRegistration.Status.REGISTERED, registration.last_error
    at_sidn = registries_local.registry.contacts[f"KLS-{customer.number}"]
    assert (at_sidn.legal_form, at_sidn.legal_form_reg_no) == ("EENMANSZAAK", "12345678")


@pytest.mark.django_db(databases="__all__")
def test_a_person_has_no_legal_form_to_give(personas: Personas) -> None:
    from django.test import Client
    from django.urls import reverse
    from django.utils import translation

    from kluis.accounts.services import AccountError, legal_form_set
    from kluis.testing import log_in

    translation.activate("nl")
    client = Client()
    log_in(client, personas.alice)  # a person
    page = client.get(reverse("accounts:legal-form")).content.decode()
    assert "Een rechtsvorm geven alleen zakelijke klanten op" in page
    assert client.post(reverse("accounts:legal-form"), {"legal_form": "bv"}).status_code == 200
    with pytest.raises(AccountError):
        legal_form_set(customer=personas.customer_a, legal_form="bv", by=personas.alice)
    personas.customer_a.refresh_from_db()
    assert personas.customer_a.legal_form == ""


@pytest.mark.django_db(databases="__all__")
def test_a_changed_legal_form_is_sent_to_sidn_in_the_live_contact_and_ledgered(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    from kluis.accounts.services import legal_form_set
    from kluis.audit.models import Disclosure
    from kluis.domains.follow import contact_updates_run
    from kluis.rights.models import FollowUp

    customer = as_company(with_address(personas.customer_a), "Visser Webdesign", "12345678")
    # Nothing at SIDN yet: a choice has nothing to follow.
    assert legal_form_set(customer=customer, legal_form="vof", by=personas.alice)
    assert not FollowUp.objects.filter(subject=customer.pk).exists()

    customer.refresh_from_db()
    done = domain_register(registration=queued(customer, "visser-vof.nl"))
    assert done.status == DomainRegistration.Status.REGISTERED, done.last_error
    at_sidn = registries_local.registry.contacts[f"KLS-{customer.number}"]
    assert at_sidn.legal_form == "VOF"
    ledgered = Disclosure.objects.filter(subject=customer.pk, recipient="sidn").count()

    customer.refresh_from_db()
    assert legal_form_set(customer=customer, legal_form="stichting", by=personas.alice)
    # The same choice again notes nothing more.
    assert not legal_form_set(customer=customer, legal_form="stichting", by=personas.alice)
    follow_up = FollowUp.objects.get(subject=customer.pk, recipient="sidn", done_at=None)

    # SIDN cannot be reached: the follow-up stays open, SIDN keeps VOF, nothing ledgered.
    registries_local.registry.faults.drop_before = "contact:update"
    assert contact_updates_run() == "0 contacts updated at registries, 1 follow-ups waiting"
    assert registries_local.registry.contacts[at_sidn.handle].legal_form == "VOF"
    assert Disclosure.objects.filter(subject=customer.pk, recipient="sidn").count() == ledgered
    registries_local.registry.faults.drop_before = ""

    assert contact_updates_run() == "1 contacts updated at registries, 0 follow-ups waiting"
    updated = registries_local.registry.contacts[at_sidn.handle]
    assert (updated.legal_form, updated.legal_form_reg_no) == ("STICHTING", "12345678")
    follow_up.refresh_from_db()
    assert follow_up.done_at is not None
    latest = Disclosure.objects.filter(subject=customer.pk, recipient="sidn").latest("pk")
    assert latest.reference == f"follow-up:{follow_up.pk} contact:{at_sidn.handle}"
    assert "user.contact.organization" in latest.categories
    assert contact_updates_run() == "0 contacts updated at registries, 0 follow-ups waiting"


@pytest.mark.django_db(databases="__all__")
def test_a_contact_deleted_at_sidn_gets_no_legal_form_follow_up(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    from kluis.accounts.services import legal_form_set
    from kluis.domains.models import RegistryContact
    from kluis.rights.models import FollowUp

    customer = as_company(with_address(personas.customer_a), "Visser Webdesign", "12345678")
    done = domain_register(registration=queued(customer, "visser-weg.nl"))
    assert done.status == DomainRegistration.Status.REGISTERED, done.last_error
    RegistryContact.objects.filter(customer=customer).update(deleted_at=timezone.now())
    assert legal_form_set(customer=customer, legal_form="bv", by=personas.alice)
    assert not FollowUp.objects.filter(subject=customer.pk).exists()


def test_the_local_sidn_refuses_a_legal_form_update_without_kvk_number(
    epp_client: EppClient,
) -> None:
    epp_client.contact_create(contact("KL-LF2", legal_form="PERSOON"))
    with pytest.raises(EppCommandFailed) as refused:
        epp_client.contact_update(contact("KL-LF2", legal_form="BV"))
    assert refused.value.code == 2306


@pytest.mark.django_db(databases="__all__")
def test_a_legal_form_without_kvk_number_waits_for_staff(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    from kluis.accounts.services import legal_form_set
    from kluis.domains.follow import contact_updates_run
    from kluis.rights.models import FollowUp

    customer = as_company(with_address(personas.customer_a), "Visser Webdesign", "12345678")
    done = domain_register(registration=queued(customer, "visser-zonder.nl"))
    assert done.status == DomainRegistration.Status.REGISTERED, done.last_error
    handle = f"KLS-{customer.number}"
    customer.kvk_number = None
    customer.save()
    assert legal_form_set(customer=customer, legal_form="nv", by=personas.alice)
    assert contact_updates_run() == "0 contacts updated at registries, 1 follow-ups waiting"
    assert registries_local.registry.contacts[handle].legal_form == "ANDERS"
    assert FollowUp.objects.get(subject=customer.pk, recipient="sidn").done_at is None
