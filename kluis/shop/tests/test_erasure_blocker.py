"""A running order holds back a customer's erasure; a finished one does not."""

import pytest

from kluis.rights.erasure import erasure_blockers
from kluis.shop.models import Order
from kluis.shop.testing import make_order

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_running_order_holds_back_erasure_and_says_what_to_do(personas):
    customer = personas.alice.customer
    order = make_order(customer)
    [blocker] = [b for b in erasure_blockers(customer.pk) if b.key == "shop.running_order"]
    assert "Annuleer" in blocker.next_nl and "Cancel" in blocker.next_en
    Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
    assert not [b for b in erasure_blockers(customer.pk) if b.key == "shop.running_order"]
