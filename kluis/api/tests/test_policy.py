"""API tokens in the privacy policy: every column declared, the statement says they are
not sealed, and the retention sweep deletes a token its term after it ended."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from kluis.api.models import ApiToken, IdempotencyKey
from kluis.api.retention import CATEGORY, HASHED_CATEGORY, STRUCTURE
from kluis.api.testing import service_token, token_for
from kluis.api.tokens import token_revoke
from kluis.policy.completeness import completeness_problems
from kluis.policy.loader import current_policy
from kluis.policy.register import build_register
from kluis.policy.render import Items, build_statement
from kluis.policy.schema import Category, Held
from kluis.rights.sweep import retention_sweep_run


def _columns(key: str) -> set[str]:
    return {c.rpartition(".")[2] for c in current_policy().categories[key].columns}


def test_every_field_of_a_token_is_declared_in_the_policy():
    policy = current_policy()
    assert policy.categories[CATEGORY].held is Held.PLAIN
    assert policy.categories[HASHED_CATEGORY].held is Held.HASHED
    assert _columns(HASHED_CATEGORY) == {"secret_hash"}
    declared = _columns(CATEGORY) | _columns(HASHED_CATEGORY) | STRUCTURE
    fields = {f.name for f in ApiToken._meta.concrete_fields}
    assert fields == declared, f"undeclared: {fields - declared}, gone: {declared - fields}"
    assert not _columns(CATEGORY) & STRUCTURE
    for key in (CATEGORY, HASHED_CATEGORY):
        assert key in policy.purposes["account_management"].categories
        assert policy.categories[key].retention == "api_token"


def test_completeness_refuses_a_column_that_does_not_exist():
    policy = current_policy()
    broken = policy.model_copy(deep=True)
    broken.categories[CATEGORY].columns.append("api.ApiToken.nickname")

    def about_tokens(problems: list[str]) -> list[str]:
        return [p for p in problems if "api_token" in p or "ApiToken" in p]

    assert about_tokens(completeness_problems([ApiToken], broken)) == [
        f"policy category {CATEGORY!r}: api.ApiToken.nickname is no plain column"
    ]
    assert about_tokens(completeness_problems([ApiToken], policy)) == []


def test_a_plain_category_must_name_its_columns():
    data = current_policy().categories[CATEGORY].model_dump()
    data["columns"] = []
    with pytest.raises(ValueError, match="names its columns"):
        Category.model_validate(data)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("nl", "Deze gegevens bewaren we niet versleuteld"),
        ("en", "We do not keep these data encrypted"),
    ],
)
def test_the_statement_and_register_say_the_token_data_are_not_sealed(language, words):
    policy = current_policy()
    with translation.override(language):
        statement = build_statement(policy, language)
        paragraphs = [
            para
            for section in statement.sections
            for block in section.blocks
            for para in (block.items if isinstance(block, Items) else [block])
        ]
        text = " ".join("".join(s.text for s in getattr(p, "spans", ())) for p in paragraphs)
        label = policy.categories[CATEGORY].label.get(language)
        assert words in text
        register = build_register(policy, language)
        held = [line for row in register.rows for line in row.cells[4] if line.startswith(label)]
    assert held, "the register lists how the token data are held"
    plain = {"nl": "niet versleuteld in kluis", "en": "not encrypted in kluis"}[language]
    assert all(plain in line for line in held)


@pytest.mark.django_db(databases="__all__")
def test_the_sweep_deletes_tokens_thirty_days_after_they_ended(personas):
    now = timezone.now()
    alive = token_for(personas.alice, ["invoices:read"])
    service_token(personas.staff["admin"])
    rows = {row.name: row for row in ApiToken.objects.all()}
    assert set(rows) == {"test", "node-1"}

    def made(name: str, **fields: object) -> ApiToken:
        row = ApiToken.objects.create(
            kind=ApiToken.Kind.PERSONAL,
            user=personas.alice,
            name=name,
            prefix="kluis_pat_x",
            secret_hash=name.ljust(64, "0"),
            scopes=["invoices:read"],
            created_at=now - dt.timedelta(days=200),
            **fields,
        )
        return row

    expired_long_ago = made("old", expires_at=now - dt.timedelta(days=40))
    revoked_long_ago = made(
        "revoked", expires_at=now + dt.timedelta(days=100), revoked_at=now - dt.timedelta(days=40)
    )
    expired_lately = made("recent", expires_at=now - dt.timedelta(days=20))
    revoked_lately = made("late", expires_at=now + dt.timedelta(days=100))
    token_revoke(token=revoked_lately, by=personas.alice)
    IdempotencyKey.objects.create(
        token=revoked_long_ago, key="k", route="r", body_sha256="0" * 64, status=201, result={}
    )

    report = retention_sweep_run()

    left = set(ApiToken.objects.values_list("name", flat=True))
    assert left == {"test", "node-1", "recent", "late"}
    assert report.rows_deleted >= 2
    assert not IdempotencyKey.objects.filter(token_id=revoked_long_ago.pk).exists()
    assert expired_lately.pk and expired_long_ago.pk  # both were made
    assert alive.startswith("kluis_pat_")
