"""The Fides export: valid for fideslang, and every key it uses exists."""

from __future__ import annotations

import io

import yaml
from django.core.management import call_command
from fideslang.default_taxonomy import DEFAULT_TAXONOMY
from fideslang.models import DataCategory, System, Taxonomy

from kluis.policy.fides import category_fides_key, fides_document, fides_taxonomy
from kluis.policy.loader import current_policy


def test_the_export_validates_with_fideslang():
    taxonomy = fides_taxonomy(current_policy())
    assert isinstance(taxonomy, Taxonomy)
    assert len(taxonomy.system) == 1
    for category in fides_document(current_policy())["data_category"]:
        DataCategory.model_validate(category)


def test_the_system_declares_one_privacy_declaration_per_purpose():
    policy = current_policy()
    (system,) = fides_document(policy)["system"]
    declarations = System.model_validate(system).privacy_declarations
    assert sorted(d.name or "" for d in declarations) == sorted(
        p.label.en for p in policy.purposes.values()
    )
    by_name = {d.name: d for d in declarations}
    for key, purpose in policy.purposes.items():
        declared = by_name[purpose.label.en]
        assert declared.data_use == purpose.fides_use
        expected = [category_fides_key(c, policy.categories[c]) for c in purpose.categories]
        assert declared.data_categories == list(dict.fromkeys(expected)), key


def test_the_export_references_only_keys_that_exist():
    document = fides_document(current_policy())
    default = DEFAULT_TAXONOMY
    categories = {c.fides_key for c in default.data_category}
    custom = {c["fides_key"] for c in document["data_category"]}
    uses = {u.fides_key for u in default.data_use}
    subjects = {s.fides_key for s in default.data_subject} | {
        s["fides_key"] for s in document["data_subject"]
    }
    assert custom, "our own kluis.* categories are exported as custom categories"
    assert not custom & categories, "a custom category may not shadow a default one"
    for category in document["data_category"]:
        assert category["parent_key"] in categories
        assert category["fides_key"].startswith(category["parent_key"] + ".")
    for declaration in document["system"][0]["privacy_declarations"]:
        assert declaration["data_use"] in uses
        assert set(declaration["data_categories"]) <= categories | custom
        assert set(declaration["shared_categories"]) <= categories | custom
        assert set(declaration["data_subjects"]) <= subjects
        assert declaration["data_subjects"]


def test_our_own_categories_become_children_of_their_fides_category():
    policy = current_policy()
    own = [key for key in policy.categories if key.startswith("kluis.")]
    exported = {c["fides_key"]: c for c in fides_document(policy)["data_category"]}
    assert len(exported) == len(own)
    for key in own:
        category = policy.categories[key]
        entry = exported[category_fides_key(key, category)]
        assert entry["parent_key"] == category.fides_key
        assert entry["name"] == category.label.en


def test_the_command_writes_yaml_that_fideslang_accepts(tmp_path):
    out = io.StringIO()
    call_command("policy_export_fides", stdout=out)
    Taxonomy.model_validate(yaml.safe_load(out.getvalue()))
    target = tmp_path / "fides.yml"
    call_command("policy_export_fides", "--output", str(target), stderr=io.StringIO())
    taxonomy = Taxonomy.model_validate(yaml.safe_load(target.read_text(encoding="utf-8")))
    assert taxonomy.system[0].fides_key == "kluis"
