"""Records held under a person's address but not under their own subject id.

A question through the contact form is sealed under its own key (nothing links it to
a customer when it arrives), but it is that person's data: the access export must
show it and an erasure must take it. Apps that keep such records register a finder
here: given the person's email addresses, it returns the vault subjects of their
records, found through a blind index. Erasure and export then treat those subjects'
holdings as the person's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from kluis.policy.enforce import Actor
from kluis.vault.errors import KeyShredded
from kluis.vault.fields import SealedValue

PURPOSE = "data_subject_rights"
SYSTEM = Actor.system("rights")

AddressFinder = Callable[[list[str]], list[uuid.UUID]]
_finders: list[AddressFinder] = []


def register_address_finder(finder: AddressFinder) -> AddressFinder:
    if finder not in _finders:
        _finders.append(finder)
    return finder


def person_emails(subject: uuid.UUID, *, contacts: bool = True) -> list[str]:
    """Every address the person is known by: the customer record, accounts, contacts.

    `contacts=False` leaves out an organisation's contact people: their addresses are
    theirs, so the organisation's erasure must not take what they hold elsewhere.
    """
    from django.db.models import Q

    from kluis.accounts.models import Contact, Customer, User

    sealed: list[object] = []
    customer = Customer.objects.filter(pk=subject).first()
    if customer is not None:
        sealed.append(customer.email)
    sealed += [u.email for u in User.objects.filter(customer_id=subject)]
    # An organisation's contacts, or the contact person themself (subject = their record).
    of_person = Q(pk=subject) | Q(customer_id=subject) if contacts else Q(pk=subject)
    sealed += [c.email for c in Contact.objects.filter(of_person)]
    found: list[str] = []
    for value in sealed:
        if not isinstance(value, SealedValue):
            continue
        try:
            address = value.reveal(purpose=PURPOSE, actor=SYSTEM).strip().lower()
        except KeyShredded:
            continue
        if address and address not in found:
            found.append(address)
    return found


def linked_subjects(subject: uuid.UUID, *, contacts: bool = True) -> list[uuid.UUID]:
    emails = person_emails(subject, contacts=contacts)
    if not emails:
        return []
    found: list[uuid.UUID] = []
    for finder in _finders:
        found += [s for s in finder(emails) if s not in found and s != subject]
    return found


def contacts_by_address(emails: list[str]) -> list[uuid.UUID]:
    """Contact-person records of any business customer under one of these addresses.

    A contact person is a data subject of their own (their record is sealed under its
    own id): someone who is, or was, the contact of an organisation gets that record in
    their copy, and an organisation's copy holds the records of its contacts.
    """
    from kluis.accounts.models import Contact
    from kluis.vault.fields import BlindIndexField

    index = Contact._meta.get_field("email_index")
    assert isinstance(index, BlindIndexField)
    digests = [index.lookup_value(e) for e in emails]
    return list(Contact.objects.filter(email_index__in=digests).values_list("pk", flat=True))
