"""An organisation's account in the copy and on "Mijn gegevens": its legal form.

The legal form is not sealed (it says what kind of organisation the customer is, and
SIDN gets it for a .nl domain), so the vault's holdings do not find it: this finder
puts it beside the other rows of the customer (kluis.rights.records).
"""

from __future__ import annotations

import uuid

from django.utils import timezone
from django.utils.translation import gettext as _

from kluis.accounts.models import Customer
from kluis.rights.records import Found, Record


def account_records(subject: uuid.UUID) -> Found:
    customer = Customer.objects.filter(pk=subject, kind=Customer.Kind.ORGANISATION).first()
    if customer is None:
        return Found()
    legal_form = customer.get_legal_form_display() if customer.legal_form else _("(niet opgegeven)")
    return Found(
        records=[
            Record(
                kind=_("klantaccount"),
                reference=customer.number,
                on=timezone.localdate(customer.created_at),
                facts=[(_("rechtsvorm"), str(legal_form))],
            )
        ]
    )
