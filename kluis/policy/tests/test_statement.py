"""The public privacy statement: complete, true to the seed, honest about retention."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.urls import reverse

from kluis.policy.loader import ARCHIVE_DIR, CURRENT_FILE, clear_cache, current_policy
from kluis.policy.pdf import statement_pdf
from kluis.policy.render import Document, Items, Section, Span, para
from kluis.policy.schema import Policy

SEED = Path(settings.BASE_DIR).parent / "shared" / "seed" / "privacybeleid.txt"
SHIPPED = Path(settings.BASE_DIR) / "kluis" / "policy" / "data" / CURRENT_FILE
DUTCH_MONTHS = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
]
BULLET = "\u2013 "  # the seed's list lines start with an en dash
# A claim of a statutory duty; "geen wettelijke bewaarplicht" / "no statutory ..." is a denial.
DUTY_CLAIM = {
    "nl": re.compile(r"(?<!geen )wettelijke (bewaarplicht|verplichting)", re.IGNORECASE),
    "en": re.compile(r"(?<!no )(statutory retention duty|legal obligation)", re.IGNORECASE),
}


# --- helpers -------------------------------------------------------------------------


def words(text: str) -> str:
    return " ".join(text.split())


def page_text(content: bytes) -> str:
    """What a reader sees: tags dropped, entities decoded, whitespace folded."""
    markup = content.decode()
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    return words(html.unescape(re.sub(r"<[^>]+>", " ", markup)))


def row_cells(content: bytes, key: str) -> list[str]:
    match = re.search(rf'<tr data-key="{re.escape(key)}">(.*?)</tr>', content.decode(), re.S)
    assert match, f"no table row for {key!r}"
    cells = re.findall(r"<td>(.*?)</td>", match.group(1), re.S)
    return [words(html.unescape(re.sub(r"<[^>]+>", " ", cell))) for cell in cells]


def row_text(content: bytes, key: str) -> str:
    return " ".join(row_cells(content, key))


_STRING = re.compile(rb"\((?:\\.|[^\\)])*\)\s*Tj|T\*")
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def pdf_text(data: bytes) -> str:
    """The text of an uncompressed ReportLab PDF set in a standard (WinAnsi) font."""
    assert b"/FlateDecode" not in data, "the statement PDF is written uncompressed"
    parts = []
    for match in _STRING.finditer(data):
        token = match.group()
        if token == b"T*":
            parts.append(" ")
            continue
        raw, out, i = token[1 : token.rindex(b")")], bytearray(), 0
        while i < len(raw):
            if raw[i] == 0x5C:  # backslash
                octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
                if octal:
                    out.append(int(octal.group(), 8))
                    i += 1 + len(octal.group())
                    continue
                out += _ESCAPES.get(raw[i + 1 : i + 2], raw[i + 1 : i + 2])
                i += 2
                continue
            out.append(raw[i])
            i += 1
        parts.append(out.decode("cp1252"))
    return words("".join(parts))


def shipped_raw() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


@pytest.fixture
def policy_dir(tmp_path, settings):
    """Point kluis at a policy directory of the test's own; write files into it."""

    def use(current: dict[str, Any], *archived: dict[str, Any]) -> Path:
        for name, raw in [(CURRENT_FILE, current)] + [
            (f"{ARCHIVE_DIR}/{raw['version']}.yaml", raw) for raw in archived
        ]:
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        settings.KLUIS_POLICY_DIR = tmp_path
        clear_cache()
        return tmp_path

    yield use
    clear_cache()


def labels(policy: Policy, language: str) -> dict[str, str]:
    """Every declared thing the statement must name, by where it comes from."""
    named: dict[str, str] = {}
    for group in ("categories", "purposes", "recipients", "retention", "rights"):
        for key, item in getattr(policy, group).items():
            named[f"{group}.{key}"] = item.label.get(language)
    for cookie in policy.cookies:
        named[f"cookies.{cookie.name}"] = cookie.label.get(language)
    security = policy.security
    for kind in ("organisational", "technical", "management"):
        for number, measure in enumerate(getattr(security, kind)):
            named[f"security.{kind}.{number}"] = measure.label.get(language)
    return {where: words(label) for where, label in named.items()}


# --- completeness --------------------------------------------------------------------


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_statement_names_everything_the_policy_declares(client, language):
    policy = current_policy()
    response = client.get(f"/privacy/{language}/")
    assert response.status_code == 200
    assert response["Content-Language"] == language
    text = page_text(response.content)
    folded = text.casefold()  # a label that opens a heading starts with a capital
    missing = {
        where: label
        for where, label in labels(policy, language).items()
        if label.casefold() not in folded
    }
    assert not missing
    assert words(policy.controller.name) in text
    assert policy.controller.supervisory_authority.url in text  # R42


def test_the_statement_follows_the_visitors_language(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "Privacy statement" in page_text(client.get("/privacy/").content)
    assert "Privacyverklaring" in page_text(client.get("/privacy/nl/").content)


def test_the_statement_shows_version_change_date_and_pdf_link(client):
    policy = current_policy()
    nl = client.get("/privacy/nl/")
    assert f"Laatste wijziging: {policy.date.day} {DUTCH_MONTHS[policy.date.month - 1]} " in (
        page_text(nl.content)
    )
    assert f"/privacy/v/{policy.version}/nl/pdf" in nl.content.decode()
    en = client.get("/privacy/en/")
    assert f"Last changed: {policy.date.day} {policy.date:%B %Y}" in page_text(en.content)
    assert f"Version {policy.version}" in page_text(en.content)


def test_the_statement_embeds_the_data_flow_map(client):
    content = client.get("/privacy/en/").content.decode()
    assert '<img src="/privacy/dataflow.svg?lang=en&amp;version=' in content


# --- the seed statement --------------------------------------------------------------


def seed_text() -> str:
    if not SEED.exists():
        pytest.skip(f"the seed statement is not at {SEED} (outside this checkout)")
    return SEED.read_text(encoding="utf-8")


def test_every_seed_quote_is_the_seeds_exact_words():
    seed = seed_text()
    wrong = [quote for quote in current_policy().seed_quotes() if quote not in seed]
    assert not wrong


def test_every_bullet_of_the_seed_is_covered_by_the_policy():
    seed = seed_text()
    quotes = current_policy().seed_quotes()
    bullets = [
        line.removeprefix(BULLET).strip() for line in seed.splitlines() if line.startswith(BULLET)
    ]
    assert len(bullets) > 40

    def core(text: str) -> str:
        # A bullet's trailing list punctuation and footnote star are not its words.
        return text.rstrip(" ,.;*")

    uncovered = [b for b in bullets if not any(core(b) in q or core(q) == core(b) for q in quotes)]
    assert not uncovered


# --- retention: no duty is claimed that the law does not impose ----------------------


@pytest.mark.parametrize("language", ["nl", "en"])
def test_only_classes_with_a_legal_duty_claim_one(client, language):
    policy = current_policy()
    content = client.get(f"/privacy/{language}/").content
    own_choice = {"nl": "Eigen keuze", "en": "Our own choice"}[language]
    for key, rule in policy.retention.items():
        row = row_text(content, key)
        assert rule.duration.describe(language) in row
        if rule.legal_duty:
            assert DUTY_CLAIM[language].search(row), key
        else:
            assert not DUTY_CLAIM[language].search(row), key
            assert own_choice in row, key


def test_traffic_data_claims_no_legal_duty_and_tax_records_name_art_52_awr(client):
    policy = current_policy()
    content = client.get("/privacy/nl/").content
    traffic = "traffic_data"
    if traffic not in policy.retention:
        traffic = policy.categories["kluis.mail_traffic"].retention
    basis = row_cells(content, traffic)[-1]
    assert basis.startswith("Eigen keuze:")
    assert not DUTY_CLAIM["nl"].search(basis)
    fiscal = [k for k, rule in policy.retention.items() if rule.legal_duty]
    assert fiscal, "the policy declares the fiscal retention duty"
    for key in fiscal:
        basis = row_cells(content, key)[-1]
        assert basis.startswith("Wettelijke bewaarplicht:")
    assert any("art. 52" in row_cells(content, k)[-1] for k in fiscal)
    assert any("AWR" in row_cells(content, k)[-1] for k in fiscal)


# --- versions ------------------------------------------------------------------------


def test_each_published_version_is_served_at_its_own_url(client, policy_dir):
    current = shipped_raw()
    old = current | {
        "version": "1.0",
        "date": "2018-05-07",
        "intro": {"nl": "De oude inleiding van 2018.", "en": "The old introduction of 2018."},
        "changes": {"nl": "Eerste versie.", "en": "First version."},
    }
    policy_dir(current, old)
    page = page_text(client.get("/privacy/v/1.0/nl/").content)
    assert "De oude inleiding van 2018." in page
    assert "Laatste wijziging: 7 mei 2018" in page
    assert "eerdere versie (1.0)" in page
    now = page_text(client.get(f"/privacy/v/{current['version']}/").content)
    assert "De oude inleiding van 2018." not in now
    assert "The old introduction of 2018." in page_text(client.get("/privacy/v/1.0/en/").content)
    listing = page_text(client.get("/privacy/versions/").content)
    assert "7 mei 2018 Eerste versie." in listing
    assert listing.index(current["version"]) < listing.index("1.0")
    old_pdf = client.get("/privacy/v/1.0/nl/pdf")
    assert "Versie 1.0" in pdf_text(old_pdf.content)


@pytest.mark.parametrize(
    "url", ["/privacy/v/9.9.9/", "/privacy/v/9.9.9/en/", "/privacy/v/9.9.9/nl/pdf", "/privacy/de/"]
)
def test_an_unknown_version_or_language_is_not_found(client, url):
    assert client.get(url).status_code == 404


# --- the PDF -------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "version_word"), [("nl", "Versie"), ("en", "Version")])
def test_the_pdf_is_the_statement(client, language, version_word):
    policy = current_policy()
    response = client.get(f"/privacy/v/{policy.version}/{language}/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="privacybeleid-{policy.version}-{language}.pdf"'
    )
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    assert policy.controller.name in text
    assert f"{version_word} {policy.version}" in text
    # A sentence may run on over a page break; the next page's footer is no part of it.
    footer = (
        r" ?(?:Privacyverklaring|Privacy statement) "
        + re.escape(policy.controller.name)
        + r" · .*? (?:Pagina|Page) \d+ ?"
    )
    pages = len(re.findall(footer, text))
    assert pages >= 2  # the footer is on every page, and found
    folded = re.sub(footer, " ", text).casefold()
    missing = [
        label for label in labels(policy, language).values() if label.casefold() not in folded
    ]
    assert not missing  # the same content as the web page


def test_the_pdf_sets_dutch_characters_in_its_font():
    line = "Privé: één bedrag van \u20ac 12 \u2013 geëist"  # euro sign, en dash
    document = Document(
        language="nl",
        title="Privacyverklaring",
        controller="Test B.V.",
        version="1",
        date=current_policy().date,
        version_line="Versie 1",
        changed_line="Laatste wijziging: 01-01-2026",
        sections=(Section(id="s", title="Één", blocks=(para(line), Items((para(Span("ë")),)))),),
    )
    text = pdf_text(statement_pdf(document))
    assert line in text
    assert "Één" in text


# --- escaping ------------------------------------------------------------------------


def test_policy_text_is_text_not_markup(client, policy_dir):
    raw = shipped_raw()
    attack = "<script>alert('x')</script> & <b>vet</b>"
    raw["intro"] = {"nl": attack, "en": attack}
    key = next(iter(raw["categories"]))
    raw["categories"][key]["label"] = {"nl": "naam <i>", "en": "name <i>"}
    policy_dir(raw)
    content = client.get("/privacy/nl/").content.decode()
    assert "<script>alert" not in content
    assert (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;vet&lt;/b&gt;" in content
    )
    assert "naam &lt;i&gt;" in content
    text = pdf_text(client.get(f"/privacy/v/{raw['version']}/nl/pdf").content)
    assert attack in text


def test_the_statement_says_whether_automated_decisions_are_made(client):
    policy = current_policy()
    assert policy.automated_decisions is not None
    assert "Geautomatiseerde besluiten" in page_text(client.get("/privacy/nl/").content)
    for language in ("nl", "en"):
        text = page_text(client.get(f"/privacy/{language}/").content)
        assert words(policy.automated_decisions.text.get(language)) in text, language


def test_a_link_of_a_description_must_stand_in_it_in_both_languages():
    from pydantic import ValidationError

    from kluis.policy.schema import Category

    data = current_policy().categories["user.device.ip_address"].model_dump(mode="json")
    assert data["links"], "the statement's promise of the current address has its link"
    data["links"][0]["text"]["en"] = "words the description does not hold"
    with pytest.raises(ValidationError, match="must stand once in the en description"):
        Category.model_validate(data)
    data["links"][0]["page"] = "somewhere_else"
    with pytest.raises(ValidationError):
        Category.model_validate(data)


def test_every_page_a_description_may_link_to_is_a_path_of_kluis():
    from kluis.policy.render import portal_href
    from kluis.policy.schema import PortalPage

    for page in PortalPage:
        assert portal_href(page).startswith("/"), page


def test_a_linked_sentence_reads_as_before_and_the_pdf_keeps_its_words():
    from kluis.policy.render import build_statement

    for language, words in (
        ("nl", "In het klantportaal laten we je zien wat je huidige IP-adres is"),
        ("en", "In the customer portal we show you your current IP address"),
    ):
        document = build_statement(current_policy(), language)
        spans = [
            span
            for section in document.sections
            for block in section.blocks
            if isinstance(block, Items)
            for item in block.items
            if item.key == "user.device.ip_address"
            for span in item.spans
        ]
        [link] = [s for s in spans if s.href]
        assert link.text == words
        assert link.href == reverse("sites_portal:sites") + "#je-ip-adres"
        description = current_policy().categories["user.device.ip_address"].description
        assert description.get(language) in "".join(s.text for s in spans)
        assert statement_pdf(document)[:5] == b"%PDF-"
