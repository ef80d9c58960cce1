"""The statement reads like a letter a careful lawyer wrote, in both languages and both forms.

Each test reads the generated text (the web page and the PDF) for one fault a
walk-through found, or for one element art. 13(2) GDPR asks for. The web page is read
as a visitor sees it (the article only, tags dropped); the PDF through its text
operators.
"""

from __future__ import annotations

import html
import re

import pytest

from kluis.policy.loader import current_policy
from kluis.policy.render import Items, Para, build_statement
from kluis.policy.tests.test_statement import pdf_text

LANGUAGES = ["nl", "en"]
# The average words per sentence a section may have. Dutch plain-language advice puts a
# readable letter at 15 to 20; legal lists of data push a statement a little above that.
MAX_AVERAGE_SENTENCE = 20.0


def _article(markup: str) -> str:
    match = re.search(r"<article\b.*?</article>", markup, re.S)
    assert match, "the statement page has no article"
    return match.group(0)


def _text(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


@pytest.fixture(params=LANGUAGES)
def texts(request, client) -> tuple[str, str, str]:
    """(language, the web page's statement text, the PDF's text)."""
    language = request.param
    policy = current_policy()
    page = client.get(f"/privacy/{language}/")
    assert page.status_code == 200
    pdf = client.get(f"/privacy/v/{policy.version}/{language}/pdf")
    assert pdf.status_code == 200
    return language, _text(_article(page.content.decode())), " ".join(pdf_text(pdf.content).split())


def _sections(markup: str) -> dict[str, str]:
    found = re.findall(r'<section id="([^"]+)"[^>]*>(.*?)</section>', markup, re.S)
    return {key: _text(body) for key, body in found}


# Each fault the walk-through found, as words that must not come back.
FAULTS = {
    "nl": {
        "buiten kluis": "the product's name leaks into where data is held",
        "Waar bewaard": "a form label, not a sentence",
        "bevoegd gegeven": "'een bevoegd gegeven vordering' is not Dutch",
        "Gevestigd:": "two different 'Gevestigd' lines for the same kind of fact",
        "binnen de EU (Nederland)": "a Dutch recipient was 'binnen de EU (Nederland)'",
        "en/of": "a lawyer writes 'of'",
        "Indien wij": "stiff; the statement says 'je' and 'we'",
        "ondertekenen": "consent for a non-EU registry is a tick box, not a signature",
        "Alleen bij:": "a form label",
        "Worden we het samen niet eens": "the complaint right is not conditional",
        "Welke gegevens voor welk doel naar welke ontvanger gaan": "a caption fragment",
    },
    "en": {
        "outside kluis": "the product's name leaks into where data is held",
        "Where it is kept": "a form label, not a sentence",
        "duly issued": "stiff",
        "Established:": "two different 'Established' lines",
        "and/or": "a lawyer writes 'or'",
        "by signing": "consent for a non-EU registry is a tick box, not a signature",
        "Only within:": "a form label",
        "If we cannot agree": "the complaint right is not conditional",
    },
}


def test_none_of_the_walk_throughs_wording_faults_is_back(texts):
    language, page, pdf = texts
    for form, text in (("web page", page), ("PDF", pdf)):
        found = {words: why for words, why in FAULTS[language].items() if words in text}
        assert not found, f"{language} {form}: {found}"


def test_the_public_text_does_not_name_the_product(texts):
    language, page, pdf = texts
    # Cookie names (kluis_session) are technical names the browser shows; the word alone
    # is the product's name.
    for form, text in (("web page", page), ("PDF", pdf)):
        assert not re.search(r"\bkluis\b", text, re.IGNORECASE), f"{language} {form}"


def test_dutch_addresses_the_reader_with_je(client):
    text = _text(_article(client.get("/privacy/nl/").content.decode()))
    assert not re.search(r"\b(u|uw|Uw)\b", text), "the Dutch statement says 'u' somewhere"


def test_the_password_is_called_a_hash_not_an_encryption(client):
    for language, wrong in (("nl", "versleutel"), ("en", "encrypt")):
        markup = client.get(f"/privacy/{language}/").content.decode()
        entry = re.search(r'<li data-key="user.authorization.password">(.*?)</li>', markup, re.S)
        assert entry, language
        text = _text(entry.group(1))
        assert "hash" in text, language
        assert wrong not in text.casefold(), f"{language}: a hash is not {wrong}..."


def test_every_top_level_section_is_numbered_in_order_on_the_page_and_in_the_pdf(texts):
    language, page, pdf = texts
    document = build_statement(current_policy(), language)
    headings = [s.title for s in document.sections if s.level == 2 and s.title]
    numbers = [int(h.split(".", 1)[0]) if re.match(r"^\d+\. ", h) else None for h in headings]
    assert numbers == list(range(1, len(headings) + 1)), headings
    position = 0
    for heading in headings:
        position = page.find(heading, position)
        assert position >= 0, f"{language} page: {heading!r} missing or out of order"
        assert heading in pdf, f"{language} PDF: {heading!r}"


def test_the_data_flow_caption_is_a_whole_sentence(client):
    for language in LANGUAGES:
        markup = client.get(f"/privacy/{language}/").content.decode()
        caption = _text(re.search(r"<figcaption>(.*?)</figcaption>", markup, re.S).group(1))
        assert caption[:1].isupper() and caption.endswith("."), caption
        # A fragment opens with its question word ("Welke gegevens ...", "Which data ...").
        assert not caption.startswith(("Welke", "Which")), caption


def test_each_recipient_says_where_it_is_established_once(client):
    policy = current_policy()
    for language, phrase in (("nl", "gevestigd in"), ("en", "established in")):
        sections = _sections(client.get(f"/privacy/{language}/").content.decode())
        for key in policy.recipients:
            text = sections[f"ontvanger-{key}"]
            assert text.count(phrase) == 1, (language, key, text)


def test_the_pdf_is_dated_on_the_day_its_version_was_published(client):
    policy = current_policy()
    pdf = client.get(f"/privacy/v/{policy.version}/nl/pdf").content
    stamp = f"D:{policy.date:%Y%m%d}".encode()
    dates = re.findall(rb"/(CreationDate|ModDate) \(([^)]*)\)", pdf)
    assert {name for name, _ in dates} == {b"CreationDate", b"ModDate"}
    assert all(value.startswith(stamp) for _, value in dates), dates


def test_consent_for_a_non_eu_registry_is_described_as_the_checkout_asks_it(client):
    from django import forms

    from kluis.shop.forms import CheckoutForm

    # The checkout asks with a checkbox ...
    assert isinstance(CheckoutForm.base_fields["non_eu_consent"].widget, forms.CheckboxInput)
    # ... and the statement says so, and how to withdraw it.
    for language, tick, withdraw in (
        ("nl", "aan te vinken", "intrekken"),
        ("en", "ticking the box", "withdraw"),
    ):
        sections = _sections(client.get(f"/privacy/{language}/").content.decode())
        text = sections["ontvanger-verisign"] + sections["ontvanger-pir"]
        assert tick in text and withdraw in text, (language, text)


def test_the_complaint_right_is_stated_plainly(client):
    for language, opening in (("nl", "Je hebt het recht"), ("en", "You have the right")):
        markup = client.get(f"/privacy/{language}/").content.decode()
        entry = re.search(r'<li data-key="complaint">(.*?)</li>', markup, re.S)
        assert entry, language
        assert opening in _text(entry.group(1)), language


def test_art_13_2_elements_are_in_the_statement(client):
    policy = current_policy()
    assert all(c.provision is not None for c in policy.categories.values()), (
        "every category says whether you must give it (art. 13(2)(e))"
    )
    for language in LANGUAGES:
        sections = _sections(client.get(f"/privacy/{language}/").content.decode())
        given = sections["verplicht"].casefold()
        for key, category in policy.categories.items():
            assert category.label.get(language).casefold() in given, (language, key)
        assert "22" in sections["geautomatiseerde-besluiten"], language  # art. 22 GDPR
        rights = sections["rechten"]
        cookie = policy.cookies[[c.needs_consent for c in policy.cookies].index(True)]
        assert cookie.label.get(language) in rights, "how to withdraw the statistics consent"
        assert ("registry buiten de EU" if language == "nl" else "registry outside the EU") in (
            rights
        )


def _sentences(text: str) -> list[str]:
    # A sentence ends at . ! ? or ; before a capital; "art. 6" and "B.V. in" do not end one.
    return [s for s in re.split(r"(?<=[.!?;])\s+(?=[A-Z\u00c0-\u00de])", text) if s.strip()]


def sentence_lengths(language: str) -> dict[str, float]:
    """The average words per sentence of each section's prose (lists and paragraphs)."""
    averages: dict[str, float] = {}
    for section in build_statement(current_policy(), language).sections:
        paragraphs: list[Para] = []
        for block in section.blocks:
            if isinstance(block, Para):
                paragraphs.append(block)
            elif isinstance(block, Items):
                paragraphs += list(block.items)
        sentences = [
            s for p in paragraphs for s in _sentences("".join(span.text for span in p.spans))
        ]
        if sentences:
            words = sum(len(s.split()) for s in sentences)
            averages[section.title or section.id] = round(words / len(sentences), 1)
    return averages


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_section_keeps_its_sentences_short(language):
    averages = sentence_lengths(language)
    report = "\n".join(f"  {average:5.1f}  {title}" for title, average in averages.items())
    too_long = {
        title: average for title, average in averages.items() if average > MAX_AVERAGE_SENTENCE
    }
    assert not too_long, (
        f"average words per sentence above {MAX_AVERAGE_SENTENCE} ({language}):\n{report}"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_all_data_in_section_2_points_at_the_section_that_lists_the_data(language):
    sections = build_statement(current_policy(), language).sections
    (data,) = [s for s in sections if s.id == "gegevens"]
    assert data.title.startswith("2. "), "'alle gegevens uit hoofdstuk 2' would point elsewhere"
