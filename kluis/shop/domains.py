"""Customers' domain names: sealed rows, revealed for a purpose wherever one is shown.

An order line or subscription of a domain keeps DOMAIN_MARK as its text and points at
a sealed DomainName; a page, mail or PDF that shows the line reveals the names it
shows in one bulk reveal (one key query, one audit entry) and puts each in place of
the mark. A name whose key was shredded (the customer was erased) shows masked.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kluis.accounts.models import Customer
from kluis.policy.cases import Case
from kluis.policy.enforce import Actor
from kluis.policy.schema import Recipient
from kluis.shop.models import DomainExtension, DomainName, OrderLine, Subscription, with_domain
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


# --- who registers an extension -------------------------------------------------------
#
# The shop does not speak to registries: the domains app registers, when it starts, which
# policy recipient (the registry itself) registers each TLD (kluis/domains/shop_link.py).
# The checkout's consent, the confirmation mail and the person's copy name that registry.

_registry_recipients: dict[str, str] = {}


def register_registry_recipients(by_tld: Mapping[str, str]) -> None:
    """TLD -> the policy's recipient key of the registry that registers it."""
    _registry_recipients.clear()
    _registry_recipients.update(by_tld)


def registry_recipient(tld: str) -> str | None:
    return _registry_recipients.get(tld.lower())


def registry_declared(tld: str) -> tuple[str, Recipient] | None:
    """The registry of `tld` as the policy declares it: (recipient key, recipient)."""
    from kluis.policy.loader import current_policy

    key = registry_recipient(tld)
    declared = current_policy().recipients.get(key) if key else None
    return (key, declared) if key and declared is not None else None


def registry_named(tld: str, fallback: str) -> str:
    """ "VeriSign, Inc. in de Verenigde Staten": the registry of `tld` by name and country."""
    found = registry_declared(tld)
    if found is None:
        return fallback
    return _named(found[1])


def _named(declared: Recipient) -> str:
    from kluis.policy.render import country_name

    name = declared.name or declared.label.get(get_language() or "nl")
    return _("%(name)s in %(country)s") % {"name": name, "country": country_name(declared.country)}


def registries_named(extensions: Iterable[DomainExtension]) -> str:
    """The registries of `extensions`, each once, by name and country: "A (X) en B (Y)"."""
    from kluis.policy.render import joined

    return joined(dict.fromkeys(registry_named(e.tld, e.registry) for e in extensions))


def non_eu_registry_lines() -> list[str]:
    """Each registry outside the EU the policy declares, with its country and extensions.

    "VeriSign, Inc. in de Verenigde Staten: .com en .net", in the active language.
    """
    from kluis.policy.loader import current_policy
    from kluis.policy.render import joined
    from kluis.policy.schema import Location

    lines = []
    for key, declared in current_policy().recipients.items():
        tlds = sorted(t for t, k in _registry_recipients.items() if k == key)
        if declared.location is Location.NON_EU and tlds:
            lines.append(f"{_named(declared)}: {joined(f'.{t}' for t in tlds)}")
    return lines
