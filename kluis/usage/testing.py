"""Test helpers of the mailboxes: a delivered package with mail and a domain name."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from kluis.accounts.models import Customer
from kluis.shop.models import Subscription
from kluis.shop.testing import make_subscription
from kluis.usage.mailboxes import mailbox_add
from kluis.usage.models import Mailbox

if TYPE_CHECKING:
    from kluis.testing import Personas


# A new address per builder call: a walk of every route builds several in one database.
_SERIAL = itertools.count(1)


def _address(local: str) -> str:
    return f"{local}{next(_SERIAL)}@alice-box.nl"


def make_mail_package(customer: Customer, domain: str) -> Subscription:
    """A delivered webshop package (one mailbox) ordered with the domain `domain`."""
    package, _domain = make_subscription(customer, domain=domain)
    return package


def make_mailbox(customer: Customer, address: str) -> Mailbox:
    package = make_mail_package(customer, address.rpartition("@")[2])
    return mailbox_add(customer, package.pk, address, actor="system:test")


def package_kwargs(p: Personas) -> dict[str, Any]:
    return {"subscription_id": make_mail_package(p.customer_a, "alice-mail.nl").pk}


def mailbox_kwargs(p: Personas) -> dict[str, Any]:
    return {"mailbox_id": make_mailbox(p.customer_a, _address("post")).pk}


def backoffice_mailbox_kwargs(p: Personas) -> dict[str, Any]:
    box = make_mailbox(p.customer_a, _address("balie"))
    return {"customer_id": p.customer_a.pk, "mailbox_id": box.pk}


def customer_mailboxes_kwargs(p: Personas) -> dict[str, Any]:
    """Alice, with a running mailbox to show (masked) on her mailboxes page."""
    make_mailbox(p.customer_a, _address("winkel"))
    return {"customer_id": p.customer_a.pk}
