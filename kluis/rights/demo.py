"""The demo's legal order under secrecy: on the officers' pages, not on the customer's."""

from __future__ import annotations

from kluis.accounts.models import Customer, User
from kluis.rights.legal_requests import police_answer, police_decide, police_register
from kluis.rights.models import PoliceRequest

CATEGORIES = ["user.name", "user.contact.email"]


def police_demo_load(*, customer: Customer, first: User, second: User) -> PoliceRequest:
    """Registered by one privacy officer, approved by the other, answered; confidential."""
    police = police_register(
        customer=customer,
        authority="Politie Eenheid Amsterdam",
        legal_basis="art. 126nc Sv",
        order_reference="PL1300-2026-0042",
        categories=CATEGORIES,
        may_inform_subject=False,
        by=first,
    )
    police_decide(police=police, approve=True, categories=CATEGORIES, by=second)
    police_answer(police=police, by=second)
    police.refresh_from_db()
    return police
