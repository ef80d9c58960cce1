"""Recipients by their own name: the debt collector and each registry are named parties;
and the notice before a restriction is lifted, as the policy states it.

The policy names each by its legal name (and KvK number); while the shipped file holds
a placeholder there, production refuses to start, as it does for the server supplier's
sub-processor name. The statement and the art. 30 register show the names. Domain names
are registered at each registry directly: the registries are the recipients, each by
name and country, with no registrar platform or generic "registry outside the EU".
"""

from __future__ import annotations

from pathlib import Path

from kluis.policy.filled import policy_dir_filled
from kluis.policy.loader import CURRENT_FILE, current_policy, load_policy_file, placeholders
from kluis.policy.register import build_register
from kluis.policy.render import Items, Para, Section, build_statement


def _section_text(section: Section) -> str:
    paras = [b for b in section.blocks if isinstance(b, Para)]
    paras += [p for b in section.blocks if isinstance(b, Items) for p in b.items]
    return " ".join(span.text for para in paras for span in para.spans)


def test_the_shipped_policy_holds_placeholders_that_production_refuses():
    missing = placeholders(current_policy())
    assert "recipients.debt_collector.name" in missing


def test_a_filled_policy_names_the_collector_in_statement_and_register(tmp_path):
    directory = policy_dir_filled(tmp_path / "policy")
    path = directory / CURRENT_FILE
    # The operator fills in the collector's KvK number beside its name.
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "name: Voorbeeld Partij 1 B.V.\n",
        "name: Voorbeeld Partij 1 B.V.\n    kvk_number: '87654321'\n",
    )
    path.write_text(text, encoding="utf-8")
    policy = load_policy_file(Path(path))
    assert placeholders(policy) == []
    collector = policy.recipients["debt_collector"]
    assert (collector.name, collector.kvk_number) == ("Voorbeeld Partij 1 B.V.", "87654321")

    for language, kvk in (("nl", "KvK-nummer 87654321"), ("en", "KvK number 87654321")):
        sections = {s.id: s for s in build_statement(policy, language).sections}
        collector_text = _section_text(sections["ontvanger-debt_collector"])
        assert f"Voorbeeld Partij 1 B.V. ({kvk})" in collector_text
        # A name the description already gives is not said twice.
        assert _section_text(sections["ontvanger-payment_provider"]).count("Mollie B.V.") == 1
        rows = {row.key: row for row in build_register(policy, language).rows}
        assert any(
            "Voorbeeld Partij 1 B.V. (KvK 87654321)" in line
            for line in rows["collections"].cells[5]
        )


REGISTRY_NAMES = {
    "sidn": "Stichting Internet Domeinregistratie Nederland (SIDN)",
    "eurid": "EURid vzw",
    "dns_belgium": "DNS Belgium vzw",
    "denic": "DENIC eG",
    "verisign": "VeriSign, Inc.",
    "pir": "Public Interest Registry",
}


def test_every_registry_kluis_sends_to_is_a_named_recipient_and_only_they_register():
    from kluis.domains.registries import REGISTRIES

    policy = current_policy()
    registering = {k for k, r in policy.recipients.items() if "domain_registration" in r.purposes}
    # Exactly the registries kluis speaks EPP to: no registrar platform, no generic
    # "registry outside the EU".
    assert registering == {r.recipient for r in REGISTRIES.values()} == set(REGISTRY_NAMES)
    for registry in REGISTRIES.values():
        declared = policy.recipients[registry.recipient]
        assert declared.name == REGISTRY_NAMES[registry.recipient]
        assert (declared.location.value == "non-EU") == registry.outside_eu, registry.key
        assert declared.requires == ("consent" if registry.outside_eu else "none")
    assert policy.recipients["verisign"].country == policy.recipients["pir"].country == "US"


def test_the_statement_and_register_name_each_registry_and_no_registrar():
    policy = current_policy()
    for language in ("nl", "en"):
        sections = {s.id: s for s in build_statement(policy, language).sections}
        assert "ontvanger-registrar" not in sections
        assert "ontvanger-non_eu_registry" not in sections
        for key, name in REGISTRY_NAMES.items():
            assert name in _section_text(sections[f"ontvanger-{key}"]), (language, key)
        rows = {row.key: row for row in build_register(policy, language).rows}
        listed = " ".join(rows["domain_registration"].cells[5])
        for key in REGISTRY_NAMES:
            assert policy.recipients[key].label.get(language) in listed, (language, key)
        assert "registrar" not in listed.casefold()
        # The transfers outside the EU name VeriSign and PIR, each with its country.
        transfers = " ".join(rows["domain_registration"].cells[6])
        for key in ("verisign", "pir"):
            assert policy.recipients[key].label.get(language) in transfers, (language, key)


def test_the_statement_promises_the_notice_before_a_restriction_is_lifted():
    policy = current_policy()
    for language, said in (
        ("nl", "dan laten we je dat 14 dagen van tevoren weten"),
        ("en", "we tell you 14 days in advance"),
    ):
        (rights,) = [s for s in build_statement(policy, language).sections if s.id == "rechten"]
        assert said in _section_text(rights)
