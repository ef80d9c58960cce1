"""Completeness of the policy against the code.

Every sealed field in every model must be declared in the policy (its category, and
its retention class among the category's classes); every declared category must be
sealed by some field or say where else it is held; a category kept plain or hashed
names columns that exist and are not sealed.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.apps import apps
from django.db.models import Model

from kluis.policy.loader import current_policy
from kluis.policy.schema import Held, Policy


def completeness_problems(
    models: Iterable[type[Model]] | None = None, policy: Policy | None = None
) -> list[str]:
    from kluis.vault.fields import sealed_fields

    policy = policy or current_policy()
    models = list(apps.get_models() if models is None else models)
    problems: list[str] = []
    used: set[str] = set()
    for model in models:
        for field in sealed_fields(model):
            where = f"{model._meta.label}.{field.name}"
            category = policy.categories.get(field.category)
            if category is None:
                problems.append(f"{where}: category {field.category!r} is not in the policy")
                continue
            used.add(field.category)
            allowed = {category.retention, *category.other_retention}
            if field.retention is not None and field.retention not in allowed:
                problems.append(
                    f"{where}: retention class {field.retention!r} is not declared for "
                    f"{field.category!r} (declared: {', '.join(sorted(allowed))})"
                )
            if category.held is not Held.SEALED:
                problems.append(
                    f"{where}: the policy says {field.category!r} is held {category.held.value}, "
                    "but this field seals it"
                )
    labels = {model._meta.label: model for model in models}
    for key, category in policy.categories.items():
        for column in category.columns:
            label, _sep, name = column.rpartition(".")
            holder = labels.get(label)
            if holder is None:
                continue  # a model outside the set being checked
            sealed = {field.name for field in sealed_fields(holder)}
            if name not in {f.name for f in holder._meta.concrete_fields} or name in sealed:
                problems.append(f"policy category {key!r}: {column} is no plain column")
        if category.held is Held.SEALED and key not in used:
            problems.append(
                f"policy category {key!r} is declared as sealed but no model field seals it"
            )
    return problems
