"""Customers' domain names: sealed rows, revealed for a purpose wherever one is shown.

An order line or subscription of a domain keeps DOMAIN_MARK as its text and points at
a sealed DomainName; a page, mail or PDF that shows the line reveals the names it
shows in one bulk reveal (one key query, one audit entry) and puts each in place of
the mark. A name whose key was shredded (the customer was erased) shows masked.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from kluis.accounts.models import Customer
from kluis.policy.cases import Case
from kluis.policy.enforce import Actor
from kluis.shop.models import DomainName, OrderLine, Subscription, with_domain
from kluis.vault.reveal import reveal_many


class HasDomain(Protocol):
    @property
    def domain_name_id(self) -> uuid.UUID | None: ...


def domain_name_create(*, customer: Customer, name: str) -> DomainName:
    """Seal `name` as a domain name of `customer` (the caller has validated it)."""
    row = DomainName(customer=customer, name=name)
    row.save(force_insert=True)
    return row


def domains_reveal(
    items: Sequence[HasDomain], *, purpose: str, actor: Actor, case: Case | None = None
) -> list[str | None]:
    """The domain name of each item: None for an item without one, or whose key is gone."""
    ids = list(dict.fromkeys(i.domain_name_id for i in items if i.domain_name_id is not None))
    if not ids:
        return [None] * len(items)
    rows = {r.pk: r for r in DomainName.objects.filter(pk__in=ids)}
    ordered = [rows[pk] for pk in ids if pk in rows]
    plain = reveal_many(ordered, ["name"], purpose=purpose, actor=actor, case=case)
    names = {row.pk: values["name"] for row, values in zip(ordered, plain, strict=True)}
    return [names.get(i.domain_name_id) if i.domain_name_id else None for i in items]


def line_texts(
    lines: Sequence[OrderLine], *, purpose: str, actor: Actor, case: Case | None = None
) -> list[tuple[OrderLine, str]]:
    """Each line with its text as the customer reads it, the domain revealed in it."""
    domains = domains_reveal(lines, purpose=purpose, actor=actor, case=case)
    return [
        (line, with_domain(line.description, domain) if line.domain_name_id else line.description)
        for line, domain in zip(lines, domains, strict=True)
    ]


def masked_line_texts(lines: Sequence[OrderLine]) -> list[tuple[OrderLine, str]]:
    """Each line with its text, a domain masked: for staff outside a case."""
    return [
        (line, with_domain(line.description, None) if line.domain_name_id else line.description)
        for line in lines
    ]


def subscription_names(
    subscriptions: Sequence[Subscription],
    language: str,
    *,
    purpose: str,
    actor: Actor,
    case: Case | None = None,
) -> list[tuple[Subscription, str]]:
    """Each subscription with its name: the product's, or its domain revealed."""
    domains = domains_reveal(subscriptions, purpose=purpose, actor=actor, case=case)
    return [
        (s, with_domain(s.name(language), domain) if s.domain_name_id else s.name(language))
        for s, domain in zip(subscriptions, domains, strict=True)
    ]


def masked_subscription_names(
    subscriptions: Sequence[Subscription], language: str
) -> list[tuple[Subscription, str]]:
    """Each subscription with its name, a domain masked but for its extension: the
    back office's lists are no case, so they do not reveal whose domain is whose."""
    return [(s, _masked(s, language)) for s in subscriptions]


def _masked(subscription: Subscription, language: str) -> str:
    if subscription.domain_name_id is None:
        return subscription.name(language)
    name = with_domain(subscription.name(language), None)
    if subscription.extension is not None:
        return f"{name} (.{subscription.extension.tld})"
    return name
