"""Renewal invoices: each period of a subscription invoiced once, grouped per customer."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connections, transaction

from kluis.billing import emails, renewals, services
from kluis.billing.domains import line_texts
from kluis.billing.models import Invoice, VatRate
from kluis.billing.services import BILLING
from kluis.jobs.registry import JOBS
from kluis.mail.models import OutboxMessage
from kluis.shop import services as shop_services
from kluis.shop.models import DomainExtension, Subscription, SubscriptionRenewal, VatCheck
from kluis.shop.testing import make_subscription

pytestmark = pytest.mark.django_db(databases="__all__")

D = dt.date


def lines(invoice: Invoice) -> list[tuple[str, int]]:
    """The lines as the invoice shows them: a domain revealed in its place."""
    shown = line_texts(list(invoice.lines.all()), purpose="invoicing", actor=BILLING)
    return [(text, line.unit_cents) for line, text in shown]


def renewal_invoices() -> list[Invoice]:
    return list(Invoice.objects.filter(order__isnull=True, kind=Invoice.Kind.INVOICE))


def test_a_monthly_subscription_is_invoiced_once_per_period_ahead_of_its_end(personas):
    [monthly] = make_subscription(personas.customer_a, started_on=D(2026, 1, 10))
    assert (monthly.period_start, monthly.period_end) == (D(2026, 1, 10), D(2026, 2, 9))
    assert renewals.renewals_run(today=D(2026, 1, 25)).invoices == 0  # ends after 8 February
    run = renewals.renewals_run(today=D(2026, 1, 26))
    assert (run.invoices, run.periods, run.failed) == (1, 1, 0)
    [invoice] = renewal_invoices()
    assert lines(invoice) == [
        ("Webwinkel Start, verlenging 10 februari 2026 t/m 9 maart 2026", 1995)
    ]
    assert invoice.issue_date == D(2026, 1, 26)
    assert (invoice.vat_rate_bp, invoice.vat_cents, invoice.total_cents) == (2100, 419, 2414)
    monthly.refresh_from_db()
    assert (monthly.period_start, monthly.period_end) == (D(2026, 2, 10), D(2026, 3, 9))
    # The same day again, and the days after: nothing until the next period is due.
    for day in (D(2026, 1, 26), D(2026, 1, 27), D(2026, 2, 22)):
        assert renewals.renewals_run(today=day).invoices == 0
    assert renewals.renewals_run(today=D(2026, 2, 23)).invoices == 1
    assert SubscriptionRenewal.objects.filter(subscription=monthly).count() == 2
    assert [r.period_start for r in monthly.renewals.all()] == [D(2026, 2, 10), D(2026, 3, 10)]
    assert {r.invoice_number for r in monthly.renewals.all()} == {
        i.number for i in renewal_invoices()
    }


def test_a_yearly_domain_renews_at_its_own_price_not_at_an_unannounced_catalogue_price(
    personas,
):
    product, domain = make_subscription(
        personas.customer_a, started_on=D(2026, 3, 1), domain="voorbeeld.nl"
    )
    Subscription.objects.filter(pk=product.pk).update(ends_on=product.period_end)
    assert domain.period_end == D(2027, 2, 28)
    # Changed in the catalogue without a price change: new customers only, nobody told.
    DomainExtension.objects.filter(tld="nl").update(price_cents=1250)
    assert renewals.renewals_run(today=D(2027, 2, 13)).invoices == 0
    assert renewals.renewals_run(today=D(2027, 2, 14)).invoices == 1
    [invoice] = renewal_invoices()
    assert lines(invoice) == [
        ("Domeinnaam voorbeeld.nl, verlenging 1 maart 2027 t/m 29 februari 2028", 995)
    ]
    domain.refresh_from_db()
    assert domain.period_end == D(2028, 2, 29)


def test_due_renewals_are_grouped_on_one_invoice_per_customer(personas):
    make_subscription(personas.customer_a, started_on=D(2026, 1, 5), domain="alice.nl")
    make_subscription(personas.customer_a, started_on=D(2026, 1, 8))
    make_subscription(personas.customer_b, started_on=D(2026, 1, 6))
    personas.customer_b.language = "en"
    personas.customer_b.save(update_fields=["language"])
    run = renewals.renewals_run(today=D(2026, 1, 25))
    assert (run.invoices, run.periods) == (2, 3)
    alice = Invoice.objects.get(customer=personas.customer_a)
    assert lines(alice) == [
        ("Webwinkel Start, verlenging 5 februari 2026 t/m 4 maart 2026", 1995),
        ("Webwinkel Start, verlenging 8 februari 2026 t/m 7 maart 2026", 1995),
    ]
    bob = Invoice.objects.get(customer=personas.customer_b)
    assert bob.language == "en"
    assert lines(bob) == [("Webshop Start, renewal 6 February 2026 to 5 March 2026", 1995)]
    assert OutboxMessage.objects.filter(template=emails.INVOICE).count() == 2


def test_a_period_is_never_invoiced_twice_even_when_the_subscription_lost_its_step(personas):
    [monthly] = make_subscription(personas.customer_a, started_on=D(2026, 1, 10))
    renewals.renewals_run(today=D(2026, 2, 1))
    # As if the advance of the period were lost (a stale reader): the renewal row of
    # that period stands in the way, so nothing is invoiced and the period moves on.
    Subscription.objects.filter(pk=monthly.pk).update(
        period_start=D(2026, 1, 10), period_end=D(2026, 2, 9)
    )
    mails = OutboxMessage.objects.count()
    assert renewals.renewals_run(today=D(2026, 2, 1)).invoices == 0
    assert len(renewal_invoices()) == 1 and OutboxMessage.objects.count() == mails
    monthly.refresh_from_db()
    assert monthly.period_end == D(2026, 3, 9)
    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionRenewal.objects.create(
            subscription=monthly,
            period_start=D(2026, 2, 10),
            period_end=D(2026, 3, 9),
            price_cents=1995,
        )


def test_a_crash_half_way_keeps_what_was_done_and_the_rerun_does_only_the_rest(
    personas, monkeypatch
):
    [alice] = make_subscription(personas.customer_a, started_on=D(2026, 1, 10))
    [bob] = make_subscription(personas.customer_b, started_on=D(2026, 1, 10))
    real = services.invoice_issue_for_lines
    calls = []

    def crash_on_the_second(**kwargs):
        calls.append(kwargs["customer"])
        if len(calls) == 2:
            raise RuntimeError("the worker died")
        return real(**kwargs)

    monkeypatch.setattr(services, "invoice_issue_for_lines", crash_on_the_second)
    with pytest.raises(RuntimeError):
        renewals.renewals_run(today=D(2026, 2, 1))
    first, second = calls
    assert [i.customer for i in renewal_invoices()] == [first]
    crashed = alice if second == personas.customer_a else bob
    crashed.refresh_from_db()
    assert crashed.period_end == D(2026, 2, 9)  # not moved on
    assert not crashed.renewals.exists()
    assert OutboxMessage.objects.filter(to_subject=second.id).count() == 0

    monkeypatch.setattr(services, "invoice_issue_for_lines", real)
    assert renewals.renewals_run(today=D(2026, 2, 1)).invoices == 1
    assert sorted(i.customer_id for i in renewal_invoices()) == sorted([first.id, second.id])
    assert SubscriptionRenewal.objects.count() == 2
    assert renewals.renewals_run(today=D(2026, 2, 1)).invoices == 0


def test_a_customer_without_a_vat_rate_is_skipped_and_the_others_are_invoiced(personas, settings):
    settings.KLUIS_OSS_ABOVE_THRESHOLD = True
    personas.customer_b.country = "FR"
    personas.customer_b.save(update_fields=["country"])
    VatRate.objects.filter(country="FR").delete()
    make_subscription(personas.customer_a, started_on=D(2026, 1, 10))
    [bobs] = make_subscription(personas.customer_b, started_on=D(2026, 1, 10))
    run = renewals.renewals_run(today=D(2026, 2, 1))
    assert (run.invoices, run.failed) == (1, 1)
    assert [i.customer for i in renewal_invoices()] == [personas.customer_a]
    bobs.refresh_from_db()
    assert bobs.period_end == D(2026, 2, 9) and not bobs.renewals.exists()


def test_an_ended_subscription_is_not_renewed(personas):
    [monthly] = make_subscription(personas.customer_a, started_on=D(2026, 1, 10))
    shop_services.subscription_end(subscription=monthly, by=personas.alice)
    assert renewals.renewals_run(today=D(2026, 2, 5)).invoices == 0
    assert not renewal_invoices() and not SubscriptionRenewal.objects.exists()


def test_ending_after_a_renewal_was_invoiced_runs_to_the_end_of_that_period(personas):
    [monthly] = make_subscription(personas.customer_a, started_on=D(2026, 1, 10))
    renewals.renewals_run(today=D(2026, 1, 30))
    ended = shop_services.subscription_end(subscription=monthly, by=personas.alice)
    assert ended.ends_on == D(2026, 3, 9)
    assert renewals.renewals_run(today=D(2026, 2, 28)).invoices == 0
    assert len(renewal_invoices()) == 1


def test_a_renewal_is_reverse_charged_on_the_customers_current_vies_answer(personas):
    customer = personas.customer_a
    customer.country, customer.kind, customer.vat_number = "BE", "organisation", "BE0403019261"
    customer.save(update_fields=["country", "kind", "vat_number", "vat_index"])
    [monthly] = make_subscription(customer, started_on=D(2026, 1, 10))
    check = VatCheck(
        order=monthly.line.order,
        vat_number="BE0403019261",
        country="BE",
        result=VatCheck.Result.VALID,
    )
    check.save(force_insert=True)
    renewals.renewals_run(today=D(2026, 2, 1))
    [invoice] = renewal_invoices()
    assert invoice.vat_scheme == Invoice.VatScheme.REVERSE_CHARGE and invoice.vat_check == check
    assert invoice.vat_cents == 0
    # A VAT number changed since that answer: no evidence, so no reverse charge.
    customer.vat_number = "BE0999999999"
    customer.save(update_fields=["vat_number", "vat_index"])
    renewals.renewals_run(today=D(2026, 3, 1))
    latest = renewal_invoices()[-1]
    assert latest.vat_scheme != Invoice.VatScheme.REVERSE_CHARGE and latest.vat_cents > 0


def test_the_job_runs_daily_and_reports_without_personal_data(personas):
    job = JOBS["billing_renewals"]
    assert job.every == dt.timedelta(days=1)
    assert job.run() == "renewals: 0 invoices for 0 periods, 0 customers failed"


def test_the_lead_time_is_parsed_strictly(monkeypatch):
    from kluis.env import env_int

    for good, value in (("", 14), ("0", 0), ("28", 28), ("7", 7)):
        monkeypatch.setenv("KLUIS_RENEWAL_LEAD_DAYS", good)
        assert env_int("KLUIS_RENEWAL_LEAD_DAYS", 14, minimum=0, maximum=28) == value
    for bad in ("-1", "29", "veertien", "7.5"):
        monkeypatch.setenv("KLUIS_RENEWAL_LEAD_DAYS", bad)
        with pytest.raises(ImproperlyConfigured, match="KLUIS_RENEWAL_LEAD_DAYS"):
            env_int("KLUIS_RENEWAL_LEAD_DAYS", 14, minimum=0, maximum=28)


def test_the_lead_time_setting_decides_what_is_due(personas, settings):
    settings.KLUIS_RENEWAL_LEAD_DAYS = 0
    make_subscription(personas.customer_a, started_on=D(2026, 1, 10))
    assert renewals.renewals_run(today=D(2026, 2, 8)).invoices == 0
    assert renewals.renewals_run(today=D(2026, 2, 9)).invoices == 1


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_runs_at_the_same_moment_invoice_each_period_once(personas):
    for _ in range(3):
        make_subscription(personas.customer_a, started_on=D(2026, 1, 10))
    make_subscription(personas.customer_b, started_on=D(2026, 1, 12))
    workers = 4
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def worker() -> None:
        try:
            start.wait()
            renewals.renewals_run(today=D(2026, 2, 1))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(i.lines.count() for i in renewal_invoices()) == [1, 3]
    assert SubscriptionRenewal.objects.count() == 4
