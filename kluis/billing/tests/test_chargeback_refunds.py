"""Refunds after a chargeback: what still fits is proposed anew, an approved refund is
held with what still fits, and finance can reject a held approved refund."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from kluis.accounts.models import User
from kluis.audit.models import AuditEntry
from kluis.billing import services
from kluis.billing.models import Invoice, Refund
from kluis.billing.tests.test_chargeback_effects import _charge_back, _pay_by_bank
from kluis.billing.tests.test_chargebacks import _paid_online
from kluis.billing.tests.test_ideal import provider  # noqa: F401
from kluis.formats import euro
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")


def _data(entry: AuditEntry) -> dict:
    return json.loads(entry.payload)["data"]


def _overpaid(client, personas, running, tmp_path, amounts: list[int]) -> tuple[Invoice, str]:
    """An invoice paid online and then paid again by bank, once per amount: each bank
    payment is over the total and proposed for refund (proposed by finance)."""
    invoice, provider_id = _paid_online(client, running.state, personas)
    assert invoice.total_cents >= 1500  # the chargebacks below take up to 15,00
    for n, cents in enumerate(amounts, start=1):
        _pay_by_bank(tmp_path, invoice, cents, f"E{n}", by=personas.staff["finance"])
    assert [r.amount_cents for r in Refund.objects.order_by("created_at", "pk")] == amounts
    return invoice, provider_id


def test_a_proposal_that_fits_only_partly_is_proposed_anew_for_what_fits(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    invoice, provider_id = _overpaid(client, personas, provider, tmp_path, [1000, 1000, 1000])
    first, second, third = Refund.objects.order_by("created_at", "pk")
    # 15,00 taken back: 15,00 of the 30,00 over is left. The oldest proposal fits whole,
    # the second only for 5,00 and the third not at all.
    _charge_back(provider_id, 1500)
    for refund in (first, second, third):
        refund.refresh_from_db()
    assert (first.status, first.held_reason) == (Refund.Status.PROPOSED, "")
    assert (second.status, second.held_reason) == (Refund.Status.REJECTED, Refund.CHARGEBACK)
    assert (third.status, third.held_reason) == (Refund.Status.REJECTED, Refund.CHARGEBACK)
    new = Refund.objects.get(replaces=second)
    assert (new.amount_cents, new.status, new.held_reason) == (500, Refund.Status.PROPOSED, "")
    assert new.payment_id == second.payment_id and new.invoice_id == invoice.pk
    # Proposed by kluis: finance takes it up and a second user approves it.
    assert new.proposed_by_id is None
    assert not Refund.objects.filter(replaces=third).exists()
    # What is proposed never exceeds what is over.
    invoice.refresh_from_db()
    proposed = sum(
        r.amount_cents for r in Refund.objects.filter(invoice=invoice, status="proposed")
    )
    assert proposed == -invoice.open_cents == 1500
    cancelled = AuditEntry.objects.filter(action="billing.refund_cancelled").order_by("pk")
    assert len(cancelled) == 2
    assert _data(cancelled[0])["replaced_by"] == new.pk
    assert _data(cancelled[0])["fits_cents"] == 500
    assert "replaced_by" not in _data(cancelled[1]) and _data(cancelled[1])["fits_cents"] == 0
    [again] = AuditEntry.objects.filter(action="billing.refund_reproposed")
    assert (_data(again)["replaces"], _data(again)["cents"]) == (second.pk, 500)
    # The refunds page shows the new proposal to take up, and the cancelled one with
    # what replaced it.
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:refunds")).content.decode()
    assert f'data-refund="{second.pk}"' in page
    assert f"opnieuw voorgesteld voor {euro(500)}, wat nog gedekt is" in page
    # The new proposal goes the usual way: taken up, approved by another, paid out.
    services.refund_propose(refund=new, by=personas.staff["finance"])
    services.refund_decide(refund=new, by=make_staff(roles=["finance"]), approve=True)
    new.refresh_from_db()
    assert new.status == Refund.Status.APPROVED


def test_an_approved_refund_that_fits_partly_is_held_with_what_still_fits(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    _invoice, provider_id = _overpaid(client, personas, provider, tmp_path, [1000, 1000])
    approved, proposed = Refund.objects.order_by("created_at", "pk")
    second = make_staff(roles=["finance"])
    services.refund_decide(refund=approved, by=second, approve=True)
    # 15,00 taken back: 5,00 of the 20,00 over is left; the approved refund counts
    # before the proposal, and only 5,00 of it is still covered.
    _charge_back(provider_id, 1500)
    approved.refresh_from_db()
    proposed.refresh_from_db()
    assert (approved.status, approved.held_reason) == (Refund.Status.APPROVED, Refund.CHARGEBACK)
    assert approved.held_fits_cents == 500 and approved.amount_cents == 1000
    # The approved one keeps what fits: nothing is left for the proposal.
    assert proposed.status == Refund.Status.REJECTED
    assert not Refund.objects.filter(replaces__isnull=False).exists()
    [held] = AuditEntry.objects.filter(action="billing.refund_held")
    assert _data(held)["fits_cents"] == 500
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:refunds")).content.decode()
    assert f"van dit bedrag is nog {euro(500)} gedekt" in page
    # Entering the account again proposes it anew for what still fits (four eyes again);
    # the note of what fitted goes.
    services.refund_payee_set(
        refund=approved, by=personas.staff["finance"], iban="NL91ABNA0417164300", name="A"
    )
    again = Refund.objects.get(pk=approved.pk)
    assert (again.status, again.held_reason, again.held_fits_cents) == ("proposed", "", None)
    assert again.amount_cents == 500
    entered = AuditEntry.objects.filter(action="billing.refund_payee_entered").last()
    assert _data(entered)["from_cents"] == 1000 and _data(entered)["to_cents"] == 500


def test_a_second_chargeback_lowers_what_a_held_refund_keeps(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    _invoice, provider_id = _overpaid(client, personas, provider, tmp_path, [1000])
    [approved] = Refund.objects.all()
    services.refund_decide(refund=approved, by=make_staff(roles=["finance"]), approve=True)
    _charge_back(provider_id, 400, ident="chb_Partly1")
    approved.refresh_from_db()
    assert approved.held_fits_cents == 600
    # A second chargeback of 3,00 leaves 3,00 over: the held refund keeps only that,
    # and finance is told again; one that takes nothing more tells nothing.
    _charge_back(provider_id, 300, ident="chb_Partly2")
    approved.refresh_from_db()
    assert approved.held_fits_cents == 300
    assert AuditEntry.objects.filter(action="billing.refund_held").count() == 2


# --- finance rejects a held approved refund --------------------------------------------


def _held_after_chargeback(client, personas, running, tmp_path) -> tuple[Refund, User]:
    """An approved refund of 10,00 that a chargeback of the whole online payment holds;
    its approver is returned too."""
    invoice, provider_id = _overpaid(client, personas, running, tmp_path, [1000])
    [refund] = Refund.objects.all()
    approver = make_staff(roles=["finance"])
    services.refund_decide(refund=refund, by=approver, approve=True)
    _charge_back(provider_id, invoice.total_cents)
    refund.refresh_from_db()
    assert (refund.status, refund.held_reason) == (Refund.Status.APPROVED, Refund.CHARGEBACK)
    return refund, approver


def test_finance_rejects_a_held_approved_refund_with_a_reason(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    refund, approver = _held_after_chargeback(client, personas, provider, tmp_path)
    url = reverse("billing_backoffice:refund-reject", kwargs={"refund_id": refund.pk})
    # The one who approved it may reject it: not paying needs no second user.
    log_in(client, approver)
    page = client.get(reverse("billing_backoffice:refunds")).content.decode()
    assert url in page and "Reden van afwijzen" in page
    response = client.post(url, {"reason": "  Klant heeft   zelf geboekt "}, follow=True)
    assert "De tegengehouden terugbetaling is afgewezen." in response.content.decode()
    refund.refresh_from_db()
    assert refund.status == Refund.Status.REJECTED and refund.decided_at is not None
    assert (refund.rejected_by, refund.rejected_reason) == (approver, "Klant heeft zelf geboekt")
    assert refund.held_reason == Refund.CHARGEBACK  # why it was held stays known
    [audit] = AuditEntry.objects.filter(action="billing.refund_rejected")
    assert _data(audit)["reason"] == "Klant heeft zelf geboekt"
    assert (_data(audit)["held"], _data(audit)["refund"]) == ("chargeback", refund.pk)
    assert audit.actor == approver.actor().ref
    # Out of the held list, under "Na een terugboeking" with who and why.
    page = client.get(reverse("billing_backoffice:refunds")).content.decode()
    assert url not in page and "Geen open terugbetalingen." in page
    assert f"afgewezen door {approver.staff_label}: Klant heeft zelf geboekt" in page
    # A second rejection changes nothing.
    response = client.post(url, {"reason": "nogmaals"}, follow=True)
    assert "Alleen een goedgekeurde terugbetaling die is tegengehouden" in (
        response.content.decode()
    )
    assert AuditEntry.objects.filter(action="billing.refund_rejected").count() == 1


def test_a_rejection_needs_a_reason_a_held_refund_and_the_finance_role(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    refund, _approver = _held_after_chargeback(client, personas, provider, tmp_path)
    url = reverse("billing_backoffice:refund-reject", kwargs={"refund_id": refund.pk})
    log_in(client, personas.staff["finance"])
    for reason in ("", "   "):
        response = client.post(url, {"reason": reason}, follow=True)
        assert response.status_code == 200
        assert "Geef een reden om de terugbetaling af te wijzen." in response.content.decode()
    response = client.post(url, {"reason": "x" * 301}, follow=True)
    assert "De reden is te lang (hoogstens 300 tekens)." in response.content.decode()
    refund.refresh_from_db()
    assert refund.status == Refund.Status.APPROVED
    # The same rules as the refunds page: only finance.
    log_in(client, personas.staff["orders"])
    assert client.post(url, {"reason": "weg"}).status_code == 403
    assert client.get(reverse("billing_backoffice:refunds")).status_code == 403
    refund.refresh_from_db()
    assert refund.status == Refund.Status.APPROVED
    assert not AuditEntry.objects.filter(action="billing.refund_rejected").exists()
    # An approved refund that is not held goes into the next file: not rejected here.
    other = Refund.objects.create(
        invoice=refund.invoice,
        payment=refund.payment,
        amount_cents=100,
        status=Refund.Status.APPROVED,
        proposed_by=personas.staff["finance"],
        approved_by=make_staff(roles=["finance"]),
    )
    with pytest.raises(services.BillingError) as refused:
        services.refund_reject_held(refund=other, by=personas.staff["finance"], reason="weg")
    assert refused.value.code == "not_held"


def test_a_held_refund_nothing_covers_any_more_cannot_be_proposed_anew(
    client,
    personas,
    provider,  # noqa: F811
    tmp_path,
):
    _invoice, provider_id = _overpaid(client, personas, provider, tmp_path, [1000, 1000])
    approved, _proposed = Refund.objects.order_by("created_at", "pk")
    services.refund_decide(refund=approved, by=make_staff(roles=["finance"]), approve=True)
    _charge_back(provider_id, 2000)  # all that was over is taken back
    approved.refresh_from_db()
    assert (approved.held_reason, approved.held_fits_cents) == (Refund.CHARGEBACK, 0)
    with pytest.raises(services.BillingError) as refused:
        services.refund_payee_set(
            refund=approved, by=personas.staff["finance"], iban="NL91ABNA0417164300", name="A"
        )
    assert refused.value.code == "nothing_fits"
    approved.refresh_from_db()
    assert approved.status == Refund.Status.APPROVED and approved.amount_cents == 1000
