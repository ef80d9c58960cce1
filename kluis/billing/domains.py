"""The domain names on invoice lines: sealed beside the line, revealed where it is shown.

A line that names a domain keeps DOMAIN_MARK in its description and an
InvoiceLineDomain row with the name, sealed under the fiscal class of the invoice's
year. The PDF, a credit note that copies the line, and anything else that shows it
reveal the names of all lines at once, for a purpose, and put each in its place.
"""

from __future__ import annotations

from collections.abc import Sequence

from kluis.billing.models import InvoiceLine, InvoiceLineDomain
from kluis.policy.enforce import Actor
from kluis.shop.models import with_domain
from kluis.vault.reveal import reveal_many


def _names(lines: Sequence[InvoiceLine], purpose: str, actor: Actor) -> dict[int, str | None]:
    """The domain per line that has one: None where its key is gone."""
    rows = list(InvoiceLineDomain.objects.filter(line__in=[line.pk for line in lines]))
    if not rows:
        return {}
    plain = reveal_many(rows, ["name"], purpose=purpose, actor=actor)
    return {row.line_id: values["name"] for row, values in zip(rows, plain, strict=True)}


def line_domains(lines: Sequence[InvoiceLine], *, purpose: str, actor: Actor) -> list[str | None]:
    """The domain of each line: None for a line without one, or whose key is gone."""
    names = _names(lines, purpose, actor)
    return [names.get(line.pk) for line in lines]


def line_texts(
    lines: Sequence[InvoiceLine], *, purpose: str, actor: Actor
) -> list[tuple[InvoiceLine, str]]:
    """Each line with its text as the invoice shows it, the domain revealed in it (a
    line without a sealed domain shows its text as it is)."""
    names = _names(lines, purpose, actor)
    return [
        (
            line,
            with_domain(line.description, names[line.pk]) if line.pk in names else line.description,
        )
        for line in lines
    ]
