"""The data-flow map: a node for everything declared, a line for every declared link."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from kluis.policy.dataflow import flow_map, flow_svg
from kluis.policy.loader import CURRENT_FILE, clear_cache, current_policy

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str | bytes) -> ET.Element:
    # Our own output: parsing it is the proof that it is well-formed, escaped XML.
    return ET.fromstring(svg)  # noqa: S314


def nodes(root: ET.Element, kind: str) -> list[str]:
    return [g.get("data-key", "") for g in root.iter(f"{SVG}g") if g.get("data-kind") == kind]


def test_the_map_has_a_node_per_category_purpose_and_recipient(client):
    policy = current_policy()
    response = client.get("/privacy/dataflow.svg?lang=nl")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert response["Content-Security-Policy"] == "default-src 'none'"
    root = parse(response.content)
    assert root.tag == f"{SVG}svg"
    assert nodes(root, "category") == list(policy.categories)
    assert nodes(root, "purpose") == list(policy.purposes)
    assert nodes(root, "recipient") == list(policy.recipients)


def test_the_map_draws_a_line_for_every_declared_link():
    policy = current_policy()
    root = parse(flow_svg(flow_map(policy, "en")))
    drawn = {(p.get("data-from"), p.get("data-to")) for p in root.iter(f"{SVG}path")}
    declared = {(c, key) for key, p in policy.purposes.items() for c in p.categories}
    declared |= {(p, key) for key, r in policy.recipients.items() for p in r.purposes}
    assert drawn == declared


def test_the_map_is_labelled_in_the_requested_language():
    policy = current_policy()
    root = parse(flow_svg(flow_map(policy, "en")))
    titles = {t.text for t in root.iter(f"{SVG}title")}
    assert {c.label.en for c in policy.categories.values()} <= titles
    assert "Recipients" in {t.text for t in root.iter(f"{SVG}text")}


def test_the_map_is_the_same_every_time():
    policy = current_policy()
    assert flow_svg(flow_map(policy, "nl")) == flow_svg(flow_map(policy, "nl"))


def test_a_label_with_markup_characters_is_escaped(client, tmp_path, settings):
    shipped = Path(settings.BASE_DIR) / "kluis" / "policy" / "data" / CURRENT_FILE
    raw = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    key = next(iter(raw["categories"]))
    raw["categories"][key]["label"] = {"nl": "naam <&> co", "en": "name <&> co"}
    (tmp_path / CURRENT_FILE).write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    settings.KLUIS_POLICY_DIR = tmp_path
    clear_cache()
    content = client.get("/privacy/dataflow.svg?lang=nl").content
    assert b"naam &lt;&amp;&gt; co" in content
    root = parse(content)  # would fail on an unescaped "<" or "&"
    node = next(g for g in root.iter(f"{SVG}g") if g.get("data-key") == key)
    assert node.findtext(f"{SVG}title") == "naam <&> co"


@pytest.mark.parametrize("query", ["version=9.9.9", "version=abc"])
def test_an_unknown_version_has_no_map(client, query):
    assert client.get(f"/privacy/dataflow.svg?{query}").status_code == 404
