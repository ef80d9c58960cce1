"""The invoice counter's own row lock keeps numbers unique, without help from elsewhere.

Issuing an invoice also appends to the audit chain, whose head lock serialises issues
as a side effect; so the concurrency test of whole issues passes even without the
counter's lock. Here two transactions take numbers with `_allocate` alone, the first
holding its transaction open while the second asks.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connections, transaction

from kluis.billing import services
from kluis.billing.models import InvoiceCounter

SERIES = "L"


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_second_number_waits_for_the_first_transaction_and_follows_it():
    InvoiceCounter.objects.create(series=SERIES, last=41)
    first_taken, second_starting, release = (threading.Event() for _ in range(3))
    numbers: dict[str, int] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                numbers["first"] = services._allocate(SERIES)
                first_taken.set()
                release.wait(30)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            first_taken.wait(30)
            second_starting.set()
            with transaction.atomic():
                numbers["second"] = services._allocate(SERIES)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert second_starting.wait(30)
    # While the first transaction is open the second cannot have its number: on
    # PostgreSQL the counter row is locked, on SQLite the database is.
    threads[1].join(timeout=1.0)
    assert threads[1].is_alive(), "the second number was taken while the first was open"
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert numbers == {"first": 42, "second": 43}
    assert InvoiceCounter.objects.get(series=SERIES).last == 43
