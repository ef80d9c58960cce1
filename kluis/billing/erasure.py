"""Billing's say in an erasure: open invoices hold it back (art. 17(3)(b), (e) GDPR)."""

from __future__ import annotations

import uuid

from kluis.billing import selectors
from kluis.rights.erasure import Blocker


def open_invoices(subject: uuid.UUID) -> list[Blocker]:
    # Something left to pay after credit notes and payments.
    unpaid = selectors.open_invoices().filter(customer_id=subject).count()
    if not unpaid:
        return []
    return [
        Blocker(
            key="billing.open_invoice",
            reason_nl=(
                "Er staat nog 1 onbetaalde factuur open."
                if unpaid == 1
                else f"Er staan nog {unpaid} onbetaalde facturen open."
            ),
            reason_en=(
                "1 unpaid invoice is still open."
                if unpaid == 1
                else f"{unpaid} unpaid invoices are still open."
            ),
            next_nl=(
                "Zodra ze betaald of gecrediteerd zijn, wissen we je gegevens; de facturen "
                "zelf bewaren we zolang de belastingwet dat eist."
            ),
            next_en=(
                "Once they are paid or credited we erase your data; the invoices themselves "
                "we keep for as long as tax law requires."
            ),
        )
    ]
