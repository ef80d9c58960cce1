"""A renewal paid after the delete restores the domain while its registry still holds
it: in redemption (RFC 3915 request and report), or a .nl in SIDN's quarantine (its
domainCancelDelete); it reinstates the renewal in billing, and the customer gets one
mail with the new invoice. Otherwise the refund proposal stands. Against the local
registry."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from kluis.audit.models import AuditEntry
from kluis.billing.emails import INVOICE
from kluis.billing.models import Invoice, Refund, SetOff
from kluis.billing.services import apply_payment
from kluis.billing.tests.test_portal_payments import received
from kluis.domains import epp_local, expiry, late_payments, renewals, restore
from kluis.domains.models import DomainRegistration, DomainRenewal
from kluis.domains.registries import REGISTRIES
from kluis.domains.tests.test_expiry import _mails, _unpaid_invoice
from kluis.domains.tests.test_renewals import _past, _plus_year, _registered_with_subscription
from kluis.mail.delivery import deliver_due
from kluis.mail.models import OutboxMessage
from kluis.shop.models import Subscription
from kluis.testing import Personas

pytestmark = pytest.mark.django_db(databases="__all__")


def _deleted_then_paid(personas: Personas, name: str) -> tuple[DomainRegistration, Invoice, Refund]:
    """A .eu deleted for non-payment at its expiry, its renewal invoice paid after."""
    registration = _registered_with_subscription(personas, name)
    expires = registration.expires_on
    assert expires is not None
    invoice = _unpaid_invoice(personas, registration)
    assert expiry.expiry_run(today=expires) == "0 notices, 1 deleted, 0 refused, 0 waiting"
    invoice.refresh_from_db()
    payment = received(invoice, invoice.total_cents, iban="NL91ABNA0417164300", day=expires)
    apply_payment(invoice, payment, None)
    refund = Refund.objects.get(invoice=invoice)
    assert refund.status == Refund.Status.PROPOSED
    registration.refresh_from_db()
    return registration, invoice, refund


def _invoices() -> int:
    return Invoice.objects.filter(kind=Invoice.Kind.INVOICE).count()


def test_a_late_payment_within_redemption_restores_the_domain_and_reinstates_the_renewal(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration, credited, refund = _deleted_then_paid(personas, "terug.eu")
    ended_term = registration.expires_on
    registry = registries_local.registry
    assert registry.domains["terug.eu"].statuses == ["pendingDelete"]
    invoices = _invoices()
    credit_notes = Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).count()
    invoice_mails = OutboxMessage.objects.filter(template=INVOICE).count()
    deliver_due(worker="test")  # what the delete and the invoicing mailed before

    assert late_payments.late_payments_run() == 1
    # The registry: request, then the report RFC 3915 asks for; active and ours again.
    assert registry.received.count("domain:update") == 2
    assert registry.domains["terug.eu"].statuses == []
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED
    assert registration.deleted_at is None and registration.end_reason == ""
    assert registration.expires_on == ended_term  # the registry's expiry after restore
    # Billing: the credited invoice stays credited, one new invoice for the restored
    # term, paid by the withdrawn proposal's money; no credit note more or less.
    assert _invoices() == invoices + 1
    assert Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).count() == credit_notes
    new = Invoice.objects.filter(kind=Invoice.Kind.INVOICE).order_by("-sequence").first()
    assert new is not None and new.pk != credited.pk
    assert new.sequence == credited.sequence + 1  # the next number, no gap
    refund.refresh_from_db()
    assert refund.status == Refund.Status.WITHDRAWN
    assert not Refund.objects.filter(status=Refund.Status.PROPOSED).exists()
    set_off = SetOff.objects.get()
    assert (set_off.from_invoice, set_off.to_invoice, set_off.refund) == (credited, new, refund)
    assert set_off.amount_cents == refund.amount_cents == new.total_cents
    assert new.is_paid
    old = Invoice.objects.get(pk=credited.pk)
    assert old.credited_cents == credited.credited_cents and old.is_paid
    assert old.paid_cents == old.due_cents  # what is over went to the new invoice
    # The subscription renews again, its period on the new invoice.
    subscription = Subscription.objects.get(line=registration.line)
    assert subscription.ends_on is None
    assert subscription.renewals.get(period_start=subscription.period_start).invoice_number == (
        new.number
    )
    # The paid term is renewed at the registry next.
    (queued,) = DomainRenewal.objects.filter(registration=registration)
    assert queued.status == DomainRenewal.Status.PENDING and queued.invoice_number == new.number
    assert renewals.renewals_run() == "1 renewed, 0 failed, 0 waiting"
    registration.refresh_from_db()
    assert ended_term is not None and registration.expires_on is not None
    assert registration.expires_on > ended_term
    # Not unpaid: the expiry job leaves it.
    assert expiry.expiry_run(today=timezone.localdate()).endswith("0 deleted, 0 refused, 0 waiting")
    # Told once, audited; the refund mail is not sent.
    assert len(_mails(restore.RESTORED)) == 1
    assert not _mails(late_payments.PAID_AFTER_DELETE)
    for action in (
        "domains.restored",
        "billing.renewal_reinstated",
        "billing.refund_withdrawn",
        "shop.subscription_resumed",
    ):
        assert AuditEntry.objects.filter(action=action).count() == 1, action
    # One mail: the restore, with the new invoice attached; no invoice mail of its own.
    assert not OutboxMessage.objects.filter(dedupe_key=f"invoice:{new.pk}").exists()
    assert OutboxMessage.objects.filter(template=INVOICE).count() == invoice_mails
    mail.outbox.clear()
    deliver_due(worker="test")
    assert len(mail.outbox) == 1
    (told,) = mail.outbox
    assert told.subject == "Je domeinnaam terug.eu is hersteld"
    assert new.number in str(told.body) and "nog" not in str(told.body).split("gecrediteerd")[1]
    assert "in de bijlage" in str(told.body)
    ((filename, pdf, mimetype),) = told.attachments
    assert (filename, mimetype) == (f"factuur-{new.number}.pdf", "application/pdf")
    assert pdf.startswith(b"%PDF")

    # Run again: nothing doubled.
    assert late_payments.late_payments_run() == 0
    assert registry.received.count("domain:update") == 2
    assert _invoices() == invoices + 1
    assert SetOff.objects.count() == 1
    assert len(_mails(restore.RESTORED)) == 1
    assert AuditEntry.objects.filter(action="domains.restored").count() == 1
    assert not OutboxMessage.objects.filter(dedupe_key=f"invoice:{new.pk}").exists()
    deliver_due(worker="test")
    assert len(mail.outbox) == 1


def test_a_late_payment_after_the_redemption_period_is_proposed_for_refund_as_before(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registration, _credited, refund = _deleted_then_paid(personas, "te-laat-terug.eu")
    assert registration.deleted_at is not None
    later = registration.deleted_at + dt.timedelta(days=REGISTRIES["eurid"].redemption_days)
    invoices = _invoices()
    assert late_payments.late_payments_run(now=later) == 1
    assert "domain:update" not in registries_local.registry.received
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.DELETED
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROPOSED
    assert _invoices() == invoices
    assert len(_mails(late_payments.PAID_AFTER_DELETE)) == 1
    assert not _mails(restore.RESTORED)


def test_a_registry_without_a_restore_method_keeps_the_refund_path(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    """DNS Belgium: its quarantine's reactivate is not used (no schema for it here)."""
    _registration, _credited, refund = _deleted_then_paid(personas, "weg-is-weg.be")
    assert late_payments.late_payments_run() == 1
    assert "domain:update" not in registries_local.registry.received
    assert "domain:cancelDelete" not in registries_local.registry.received
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROPOSED
    assert len(_mails(late_payments.PAID_AFTER_DELETE)) == 1


def test_a_restore_the_registry_refuses_leaves_the_refund_and_nothing_half(
    personas: Personas, registries_local: epp_local.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry takes the request but refuses the report (one statement): no books."""
    registration, _credited, refund = _deleted_then_paid(personas, "geweigerd.eu")
    monkeypatch.setattr(restore, "STATEMENTS", (restore.STATEMENTS[0], " "))
    invoices = _invoices()
    assert late_payments.late_payments_run() == 1
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.DELETED
    assert "2306" in registration.last_error
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROPOSED
    assert _invoices() == invoices and not SetOff.objects.exists()
    assert Subscription.objects.get(line=registration.line).ends_on is not None
    assert not DomainRenewal.objects.filter(registration=registration).exists()
    assert len(_mails(late_payments.PAID_AFTER_DELETE)) == 1
    assert not _mails(restore.RESTORED)
    assert not AuditEntry.objects.filter(action="billing.renewal_reinstated").exists()
    # Told of the refund: not restored afterwards.
    monkeypatch.undo()
    assert late_payments.late_payments_run() == 0
    assert registries_local.registry.received.count("domain:update") == 2


def test_killed_after_the_registrys_yes_the_rerun_finishes_the_books_once(
    personas: Personas, registries_local: epp_local.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    registration, _credited, _refund = _deleted_then_paid(personas, "half-terug.eu")
    invoices = _invoices()

    def crash(_registration: DomainRegistration) -> None:
        raise SystemExit("killed")

    monkeypatch.setattr(restore, "_after_restore", crash)
    with pytest.raises(SystemExit):
        late_payments.late_payments_run()
    monkeypatch.undo()
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.DELETED  # not committed
    assert _invoices() == invoices
    assert registries_local.registry.domains["half-terug.eu"].statuses == []  # restored

    assert late_payments.late_payments_run() == 1
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED
    assert registries_local.registry.received.count("domain:update") == 2  # nothing resent
    assert _invoices() == invoices + 1
    assert len(_mails(restore.RESTORED)) == 1


def test_books_that_refuse_after_the_registrys_yes_delete_it_again(
    personas: Personas, registries_local: epp_local.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finance approved the refund between the check and the books: the compensating
    delete puts the domain back in redemption, and the refund goes its way."""
    registration, _credited, refund = _deleted_then_paid(personas, "toch-terug.eu")
    invoices = _invoices()

    def approved(_registration: DomainRegistration) -> None:
        Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.APPROVED)

    monkeypatch.setattr(restore, "_after_restore", approved)
    assert late_payments.late_payments_run() == 1
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.DELETED
    assert registries_local.registry.domains["toch-terug.eu"].statuses == ["pendingDelete"]
    assert _invoices() == invoices
    assert Subscription.objects.get(line=registration.line).ends_on is not None
    assert AuditEntry.objects.filter(action="domains.restore_undone").count() == 1
    assert "refund_decided" in registration.last_error
    assert len(_mails(late_payments.PAID_AFTER_DELETE)) == 1
    assert not _mails(restore.RESTORED)


def test_a_registry_restore_fee_is_a_line_of_the_new_invoice_and_stays_open(
    personas: Personas, registries_local: epp_local.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        REGISTRIES,
        "eurid",
        dataclasses.replace(REGISTRIES["eurid"], restore_fee_cents=4500),
    )
    registration, _credited, refund = _deleted_then_paid(personas, "met-kosten.eu")
    registration.order.language = "en"
    registration.order.save(update_fields=["language"])
    assert late_payments.late_payments_run() == 1
    new = Invoice.objects.filter(kind=Invoice.Kind.INVOICE).order_by("-sequence").first()
    assert new is not None
    fee = new.lines.order_by("position").last()
    assert fee is not None and fee.unit_cents == 4500
    assert new.paid_cents == refund.amount_cents and new.open_cents == new.total_cents - (
        refund.amount_cents
    )
    assert not new.is_paid
    # The term itself is paid: it is renewed, and the fee is collected as any invoice.
    assert DomainRenewal.objects.filter(registration=registration).count() == 1
    mail.outbox.clear()
    deliver_due(worker="test")
    (told,) = [m for m in mail.outbox if "has been restored" in m.subject]
    assert told.subject == "Your domain name met-kosten.eu has been restored"
    assert "cost of the restore" in str(told.body) and new.number in str(told.body)
    # What is open comes with how to pay it, and the invoice itself is attached.
    assert new.payment_reference in str(told.body) and "IBAN" in str(told.body)
    # named in the invoice's own language (the customer's), as its lines are
    assert [a[0] for a in told.attachments] == [f"factuur-{new.number}.pdf"]
    assert fee.description.startswith("Herstel van")  # the invoice's language


def test_a_registry_that_does_not_restore_keeps_the_refund_path(
    personas: Personas, registries_local: epp_local.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        REGISTRIES, "eurid", dataclasses.replace(REGISTRIES["eurid"], restore=False)
    )
    _registration, _credited, refund = _deleted_then_paid(personas, "niet-herstellen.eu")
    assert late_payments.late_payments_run() == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROPOSED
    assert len(_mails(late_payments.PAID_AFTER_DELETE)) == 1


def test_a_later_credit_on_the_old_invoice_refunds_only_what_was_not_set_off(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    """The old invoice also renewed another subscription; ending that one after the
    restore credits its part, and exactly that part is proposed for refund: the money
    set off against the restored term is not counted twice."""
    from kluis.shop.services import subscription_stop

    registration, credited, _refund = _deleted_then_paid(personas, "samen.eu")
    assert late_payments.late_payments_run() == 1
    other = (
        Subscription.objects.filter(customer=registration.order.customer_id)
        .exclude(line=registration.line)
        .filter(renewals__invoice_number=credited.number)
        .first()
    )
    assert other is not None
    subscription_stop(
        subscription_id=other.pk,
        last_day=other.period_start - dt.timedelta(days=1),
        actor_ref="test",
    )
    note = Invoice.objects.filter(corrects=credited).order_by("-sequence").first()
    assert note is not None and note.total_cents < 0
    (again,) = Refund.objects.filter(invoice=credited, status=Refund.Status.PROPOSED)
    assert again.amount_cents == -note.total_cents


def test_vies_not_answering_leaves_the_books_for_the_next_run_not_the_refund(
    personas: Personas, registries_local: epp_local.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kluis.billing import reinstate
    from kluis.billing.services import BillingError

    registration, _credited, refund = _deleted_then_paid(personas, "vies-stil.eu")

    def unavailable(*_args: object) -> None:
        raise BillingError("vies_unavailable")

    monkeypatch.setattr(reinstate, "_vies_evidence", unavailable)
    assert late_payments.late_payments_run() == 0
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.DELETED
    assert registries_local.registry.domains["vies-stil.eu"].statuses == []  # restored there
    assert not _mails(late_payments.PAID_AFTER_DELETE) and not _mails(restore.RESTORED)
    assert not AuditEntry.objects.filter(action="domains.restore_undone").exists()
    monkeypatch.undo()
    assert late_payments.late_payments_run() == 1
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED
    refund.refresh_from_db()
    assert refund.status == Refund.Status.WITHDRAWN
    assert len(_mails(restore.RESTORED)) == 1


# --- .nl: SIDN's quarantine and its domainCancelDelete ------------------------------------


def _nl_deleted_early(
    personas: Personas, registry: epp_local.Registry, name: str
) -> tuple[DomainRegistration, Invoice, dt.date]:
    """A .nl whose renewal is not paid, deleted on its end day, two days before its
    expiry (SIDN renews by itself); the registry's clock on that day."""
    registration = _registered_with_subscription(personas, name)
    expires = registration.expires_on
    assert expires is not None
    invoice = _unpaid_invoice(personas, registration)
    end = expiry.end_day(registration)
    assert end == expires - dt.timedelta(days=2)
    registry.clock = lambda: _past(end)
    assert expiry.expiry_run(today=end) == "0 notices, 1 deleted, 0 refused, 0 waiting"
    assert registry.domains[name].statuses == ["pendingDelete"]  # in SIDN's quarantine
    invoice.refresh_from_db()
    registration.refresh_from_db()
    return registration, invoice, expires


def _pay(invoice: Invoice, day: dt.date) -> Refund:
    payment = received(invoice, invoice.total_cents, iban="NL91ABNA0417164300", day=day)
    apply_payment(invoice, payment, None)
    refund = Refund.objects.get(invoice=invoice)
    assert refund.status == Refund.Status.PROPOSED
    return refund


def test_a_nl_paid_between_its_early_delete_and_its_expiry_comes_out_of_quarantine(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    """Paid the day after the early delete, before the expiry: restored with SIDN's
    domainCancelDelete, with its old expiry; the paid term is SIDN's own renewal at
    that expiry, read afterwards; one mail with the new invoice."""
    registry = registries_local.registry
    registration, credited, expires = _nl_deleted_early(personas, registry, "net-te-laat.nl")
    day_after = expires - dt.timedelta(days=1)
    registry.clock = lambda: _past(day_after)
    refund = _pay(credited, day_after)
    invoice_mails = OutboxMessage.objects.filter(template=INVOICE).count()
    deliver_due(worker="test")
    mail.outbox.clear()

    assert late_payments.late_payments_run() == 1
    assert registry.received.count("domain:cancelDelete") == 1
    assert "domain:update" not in registry.received  # no RFC 3915 at SIDN
    record = registry.domains["net-te-laat.nl"]
    assert record.statuses == [] and record.expires[:10] == expires.isoformat()
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED
    assert registration.expires_on == expires
    refund.refresh_from_db()
    assert refund.status == Refund.Status.WITHDRAWN
    new = Invoice.objects.filter(kind=Invoice.Kind.INVOICE).order_by("-sequence").first()
    assert new is not None and new.pk != credited.pk and new.is_paid
    (queued,) = DomainRenewal.objects.filter(registration=registration)
    assert (queued.status, queued.expires_before) == (DomainRenewal.Status.PENDING, expires)
    # Paid now: not deleted again, neither that day nor on its expiry.
    assert expiry.expiry_run(today=day_after) == "0 notices, 0 deleted, 0 refused, 0 waiting"
    assert expiry.expiry_run(today=expires) == "0 notices, 0 deleted, 0 refused, 0 waiting"
    # SIDN renews it at the expiry by itself: no <renew>, its new date read after.
    assert renewals.renewals_run(today=day_after) == (
        "0 renewed, 0 failed, 0 waiting, 1 left to the registry"
    )
    registry.clock = lambda: _past(expires + dt.timedelta(days=1))
    assert renewals.renewals_run(today=expires + dt.timedelta(days=1)) == (
        "1 renewed, 0 failed, 0 waiting"
    )
    assert "domain:renew" not in registry.received
    registration.refresh_from_db()
    assert registration.expires_on == _plus_year(expires)
    queued.refresh_from_db()
    assert queued.status == DomainRenewal.Status.BY_REGISTRY
    # One mail, with the invoice; the same run again sends and restores nothing.
    assert OutboxMessage.objects.filter(template=INVOICE).count() == invoice_mails
    assert late_payments.late_payments_run() == 0
    assert registry.received.count("domain:cancelDelete") == 1
    deliver_due(worker="test")
    (told,) = mail.outbox
    assert told.subject == "Je domeinnaam net-te-laat.nl is hersteld"
    assert "SIDN hield hem nog vast" in str(told.body)
    assert [a[0] for a in told.attachments] == [f"factuur-{new.number}.pdf"]
    assert AuditEntry.objects.filter(action="domains.restored").count() == 1


def test_a_nl_paid_after_its_expiry_in_quarantine_keeps_the_term_sidn_renewed(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    """Ten days after the expiry (twelve in quarantine): SIDN renews the name a year from
    its old expiry once it is back, which is the term the customer paid; recorded as
    renewed by the registry, nothing left to renew."""
    registry = registries_local.registry
    registration, credited, expires = _nl_deleted_early(personas, registry, "na-vervallen.nl")
    later = expires + dt.timedelta(days=10)
    registry.clock = lambda: _past(later)
    refund = _pay(credited, later)
    assert late_payments.late_payments_run() == 1
    assert registry.received.count("domain:cancelDelete") == 1
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.REGISTERED
    assert registration.expires_on == _plus_year(expires)
    (renewal,) = DomainRenewal.objects.filter(registration=registration)
    assert renewal.status == DomainRenewal.Status.BY_REGISTRY
    assert (renewal.expires_before, renewal.expires_after) == (expires, _plus_year(expires))
    subscription = Subscription.objects.get(line=registration.line)
    assert subscription.ends_on is None
    refund.refresh_from_db()
    assert refund.status == Refund.Status.WITHDRAWN
    assert renewals.renewals_run(today=later) == "0 renewed, 0 failed, 0 waiting"


def test_a_nl_paid_after_its_quarantine_is_refunded_and_nothing_is_sent(
    personas: Personas, registries_local: epp_local.Running
) -> None:
    registry = registries_local.registry
    registration, credited, _expires = _nl_deleted_early(personas, registry, "na-40-dagen.nl")
    refund = _pay(credited, dt.date.today())
    assert registration.deleted_at is not None
    over = registration.deleted_at + dt.timedelta(days=REGISTRIES["sidn"].redemption_days)
    assert late_payments.late_payments_run(now=over) == 1
    assert "domain:cancelDelete" not in registry.received
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROPOSED
    assert len(_mails(late_payments.PAID_AFTER_DELETE)) == 1 and not _mails(restore.RESTORED)


def test_a_nl_whose_books_refuse_goes_back_into_quarantine(
    personas: Personas, registries_local: epp_local.Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = registries_local.registry
    registration, credited, expires = _nl_deleted_early(personas, registry, "weer-weg.nl")
    refund = _pay(credited, expires - dt.timedelta(days=1))

    def approved(_registration: DomainRegistration) -> None:
        Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.APPROVED)

    monkeypatch.setattr(restore, "_after_restore", approved)
    assert late_payments.late_payments_run() == 1
    assert registry.received.count("domain:cancelDelete") == 1
    assert registry.domains["weer-weg.nl"].statuses == ["pendingDelete"]  # deleted again
    registration.refresh_from_db()
    assert registration.status == DomainRegistration.Status.DELETED
    assert AuditEntry.objects.filter(action="domains.restore_undone").count() == 1
    assert len(_mails(late_payments.PAID_AFTER_DELETE)) == 1 and not _mails(restore.RESTORED)
