"""Twenty invoices issued at the same moment: no gap and no duplicate in the numbers."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections

from kluis.billing import services
from kluis.billing.models import Invoice, InvoiceCounter
from kluis.billing.tests.helpers import order_for

THREADS = 20


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_concurrent_issues_take_gapless_unique_numbers(personas):
    orders = [order_for(personas.customer_a) for _ in range(THREADS)]
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        try:
            start.wait()
            services.invoice_issue(order=orders[n], issued_by=None)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sequences = sorted(Invoice.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, THREADS + 1))
    assert len(set(Invoice.objects.values_list("number", flat=True))) == THREADS
    assert InvoiceCounter.objects.get(series="F").last == THREADS


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_rolled_back_issue_gives_its_number_back(personas, monkeypatch):
    first, second = order_for(personas.customer_a), order_for(personas.customer_a)
    services.invoice_issue(order=first, issued_by=None)
    second.status = "cancelled"
    second.save(update_fields=["status"])
    with pytest.raises(services.BillingError):
        services.invoice_issue(order=second, issued_by=None)
    second.status = "received"
    second.save(update_fields=["status"])
    original = services._issue

    def failing(**kwargs: Any) -> Invoice:
        original(**kwargs)
        raise RuntimeError("crash after the number was taken")

    monkeypatch.setattr(services, "_issue", failing)
    with pytest.raises(RuntimeError):
        services.invoice_issue(order=second, issued_by=None)
    monkeypatch.setattr(services, "_issue", original)
    third = services.invoice_issue(order=second, issued_by=None)
    assert third.sequence == 2
