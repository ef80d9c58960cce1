"""The notices the agreements promise: sub-processor changes, and a consumer's renewal."""

from __future__ import annotations

import datetime as dt

import pytest

from kluis.mail.delivery import build_email
from kluis.mail.models import OutboxMessage
from kluis.policy.loader import current_policy
from kluis.policy.schema import Subprocessor, Text
from kluis.shop import notices
from kluis.shop.catalogue import catalogue_load
from kluis.shop.models import Order, Product, SubprocessorNotice, Subscription
from kluis.shop.testing import make_order, make_subscription

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def new_subprocessor(monkeypatch):
    """The policy declares one more sub-processor (a backup supplier) from now on."""

    def declare() -> str:
        policy = current_policy()
        supplier = policy.recipients["server_supplier"]
        sub = Subprocessor(
            legal_name="Back-up Opslag B.V.",
            city="Utrecht",
            activities=Text(nl="bewaren van back-ups", en="keeping backups"),
        )
        changed = policy.model_copy(
            update={
                "recipients": {
                    **policy.recipients,
                    "backup_supplier": supplier.model_copy(update={"subprocessor": sub}),
                }
            }
        )
        monkeypatch.setattr(notices, "current_policy", lambda: changed)
        return sub.legal_name

    return declare


def test_a_changed_list_is_announced_30_days_ahead_to_each_customer_with_a_processor_agreement(
    personas, new_subprocessor
):
    make_order(personas.customer_a)  # Alice accepted a processor agreement; Bob has none
    first = notices.subprocessors_announce(today=dt.date(2026, 12, 4))
    assert first.queued == 0 and first.notice is not None and not first.notice.announced
    assert notices.subprocessors_announce(today=dt.date(2026, 12, 5)).queued == 0  # unchanged

    name = new_subprocessor()
    done = notices.subprocessors_announce(today=dt.date(2026, 12, 6))
    assert done.queued == 1
    assert done.notice is not None and done.notice.takes_effect_on == dt.date(2027, 1, 5)
    [mail] = OutboxMessage.objects.filter(template="shop/email/subprocessor_notice")
    assert mail.to_subject == personas.customer_a.id
    email = build_email(mail)
    assert email.to == ["alice@example.nl"]
    assert "5 januari 2027" in email.subject
    assert name in email.body and "bezwaar" in email.body
    # The list before the change is in the mail too.
    before = SubprocessorNotice.objects.order_by("created_at").first()
    assert before is not None and before.names.splitlines()[0] in email.body
    # A rerun, the next day: nothing new, nothing twice.
    assert notices.subprocessors_announce(today=dt.date(2026, 12, 7)).queued == 0
    assert OutboxMessage.objects.filter(template="shop/email/subprocessor_notice").count() == 1


def test_a_customer_whose_contract_ended_is_not_told(personas, new_subprocessor):
    from django.utils import timezone

    make_order(personas.customer_a)
    notices.subprocessors_announce()
    personas.customer_a.contract_ended_at = timezone.now() - dt.timedelta(days=1)
    personas.customer_a.save()
    new_subprocessor()
    assert notices.subprocessors_announce().queued == 0


def _yearly(personas, *, consumer: bool) -> Subscription:
    catalogue_load()
    Product.objects.filter(code="webwinkel-start").update(period="year")
    [subscription] = make_subscription(personas.customer_a, started_on=dt.date(2026, 1, 15))
    Order.objects.filter(pk=subscription.line.order_id).update(consumer=consumer)
    return subscription


def test_a_consumer_is_told_before_a_yearly_renewal_how_to_end_it(personas):
    subscription = _yearly(personas, consumer=True)
    assert subscription.period_end == dt.date(2027, 1, 14)
    assert notices.renewal_notices_send(today=dt.date(2026, 12, 14)) == 0  # 31 days ahead
    assert notices.renewal_notices_send(today=dt.date(2026, 12, 15)) == 1
    notices.renewal_notices_send(today=dt.date(2026, 12, 16))  # again: same mail
    [mail] = OutboxMessage.objects.filter(template="shop/email/renewal_notice")
    email = build_email(mail)
    assert "15 januari 2027" in email.subject
    assert "14 januari 2027" in email.body and "14 januari 2028" in email.body
    assert "/portaal/winkel/abonnementen/" in email.body
    assert "opzegtermijn van één maand" in email.body
    assert "(inclusief btw)" in email.body


def test_a_business_and_a_monthly_item_get_no_renewal_notice(personas):
    _yearly(personas, consumer=False)
    Product.objects.filter(code="webwinkel-start").update(period="month")
    [monthly] = make_subscription(personas.customer_b, started_on=dt.date(2026, 12, 1))
    Order.objects.filter(pk=monthly.line.order_id).update(consumer=True)
    assert notices.renewal_notices_send(today=dt.date(2026, 12, 15)) == 0
