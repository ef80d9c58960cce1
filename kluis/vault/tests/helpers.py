from __future__ import annotations

import itertools

from kluis.accounts.models import Customer

_numbers = itertools.count(1)


def make_customer(**values: str) -> Customer:
    defaults = {
        "name": "Jan Jansen",
        "email": "jan@example.nl",
        "phone": "+31 20 123 4567",
        "address_street": "Keizersgracht 1",
        "address_postcode": "1015 CJ",
        "address_city": "Amsterdam",
    }
    customer = Customer(number=f"K{next(_numbers):06d}", **{**defaults, **values})
    customer.save()
    return customer
