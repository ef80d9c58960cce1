"""What the vault holds about one person, found generically.

Walks every model with sealed fields and finds the rows whose vault subject is the
given person, so "my data", the access export and erasure see what later apps seal
without those apps registering anything. A model whose subject is not a plain field
overrides `SealedModel.vault_subject_q(subject)`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.apps import apps

from kluis.vault.fields import SealedField, SealedModel, SealedValue, sealed_fields


@dataclass(frozen=True)
class Holding:
    row: SealedModel
    field: SealedField

    @property
    def value(self) -> SealedValue:
        value = getattr(self.row, self.field.attname)
        assert isinstance(value, SealedValue)
        return value


def sealed_models() -> list[type[SealedModel]]:
    return [
        model
        for model in apps.get_models()
        if issubclass(model, SealedModel) and sealed_fields(model)
    ]


def sealed_holdings(subject: uuid.UUID) -> list[Holding]:
    """Every non-empty sealed value whose vault subject is `subject`."""
    holdings: list[Holding] = []
    for model in sealed_models():
        fields = sealed_fields(model)
        for row in model._default_manager.filter(model.vault_subject_q(subject)):
            if row.vault_subject() != subject:  # a query that says more than it holds
                continue
            holdings.extend(
                Holding(row, f) for f in fields if row.__dict__.get(f.attname) is not None
            )
    return holdings
