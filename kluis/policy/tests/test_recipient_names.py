"""Recipients by their own name: the registrar and the debt collector are named parties;
and the notice before a restriction is lifted, as the policy states it.

The policy names each by its legal name (and KvK number); while the shipped file holds
a placeholder there, production refuses to start, as it does for the server supplier's
sub-processor name. The statement and the art. 30 register show the names.
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
    assert "recipients.registrar.name" in missing
    assert "recipients.debt_collector.name" in missing


def test_a_filled_policy_names_registrar_and_collector_in_statement_and_register(tmp_path):
    directory = policy_dir_filled(tmp_path / "policy")
    path = directory / CURRENT_FILE
    # The operator fills in the collector's KvK number beside its name.
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "name: Voorbeeld Partij 2 B.V.\n",
        "name: Voorbeeld Partij 2 B.V.\n    kvk_number: '87654321'\n",
    )
    path.write_text(text, encoding="utf-8")
    policy = load_policy_file(Path(path))
    assert placeholders(policy) == []
    assert policy.recipients["registrar"].name == "Voorbeeld Partij 1 B.V."
    collector = policy.recipients["debt_collector"]
    assert (collector.name, collector.kvk_number) == ("Voorbeeld Partij 2 B.V.", "87654321")

    for language, kvk in (("nl", "KvK-nummer 87654321"), ("en", "KvK number 87654321")):
        sections = {s.id: s for s in build_statement(policy, language).sections}
        assert "Voorbeeld Partij 1 B.V." in _section_text(sections["ontvanger-registrar"])
        collector_text = _section_text(sections["ontvanger-debt_collector"])
        assert f"Voorbeeld Partij 2 B.V. ({kvk})" in collector_text
        # A name the description already gives is not said twice.
        assert _section_text(sections["ontvanger-payment_provider"]).count("Mollie B.V.") == 1

        rows = {row.key: row for row in build_register(policy, language).rows}
        (registrar,) = [
            line for line in rows["domain_registration"].cells[5] if "Voorbeeld Partij 1" in line
        ]
        assert registrar.startswith(policy.recipients["registrar"].label.get(language) + ", ")
        assert any(
            "Voorbeeld Partij 2 B.V. (KvK 87654321)" in line
            for line in rows["collections"].cells[5]
        )


def test_the_statement_promises_the_notice_before_a_restriction_is_lifted():
    policy = current_policy()
    for language, said in (
        ("nl", "dan laten we je dat 14 dagen van tevoren weten"),
        ("en", "we tell you 14 days in advance"),
    ):
        (rights,) = [s for s in build_statement(policy, language).sections if s.id == "rechten"]
        assert said in _section_text(rights)
