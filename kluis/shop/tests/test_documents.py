"""Versioned documents: the next order gets a new version; existing customers accept it."""

from __future__ import annotations

import shutil

import pytest
from django.urls import reverse

from kluis.shop import documents
from kluis.shop.models import Acceptance, Order
from kluis.shop.pdf import OrderFacts, render_order_document
from kluis.shop.testing import make_order
from kluis.shop.tests.helpers import checkout, fill_cart
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def publish(tmp_path, monkeypatch):
    """Publish the next agreement version (a copy of the documents with one more)."""

    def publish() -> str:
        root = tmp_path / "documents"
        shutil.copytree(documents.ROOT, root)
        current = documents.current_version("agreement")
        major, minor = current.split(".")
        following = f"{major}.{int(minor) + 1}"
        for lang in documents.LANGUAGES:
            old = (root / "agreement" / f"{current}.{lang}.txt").read_text()
            new = old.replace(current, following) + "\n99. Nieuw\nNieuw artikel.\n"
            (root / "agreement" / f"{following}.{lang}.txt").write_text(new)
        monkeypatch.setattr(documents, "ROOT", root)
        return following

    return publish


def test_every_document_exists_in_dutch_and_english_with_a_version():
    for kind in documents.KINDS:
        assert documents.versions(kind)[0] == "1.0"
        for lang in documents.LANGUAGES:
            doc = documents.current(kind, lang)
            assert doc.version in doc.text.splitlines()[1]


def test_the_processor_agreement_covers_article_28_3():
    for lang, words in {
        "nl": [
            "Onderwerp",
            "duur",
            "Aard en doel",
            "Soort gegevens",
            "Categorieën betrokkenen",
            "verwerkingsverantwoordelijke",
            "verwerker",
        ],
        "en": [
            "Subject-matter",
            "duration",
            "Nature and purpose",
            "Types of personal data",
            "Categories of data subjects",
            "controller",
            "processor",
        ],
    }.items():
        text = documents.current("processor_agreement", lang).text
        for word in words:
            assert word in text, (lang, word)
        for point in "abcdefgh":
            assert f"\n{point}. " in text, (lang, point)


def test_the_pdf_is_deterministic_and_prints_customer_text_as_typed():
    facts = OrderFacts(
        "B1",
        "25-11-2026",
        "K1",
        "Eva <b>Visser</b>",
        "{{ x }} =SUM(A1)",
        [("Webwinkel", "€ 19,95")],
        "€ 19,95",
    )
    doc = documents.current("agreement", "nl")
    first = render_order_document(doc, facts)
    assert first == render_order_document(doc, facts)
    import io

    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(first)).pages)
    assert "{{ x }} =SUM(A1)" in text and "Eva <b>Visser</b>" in text


def test_the_next_order_gets_the_new_version(client, catalogue, publish):
    processor = documents.current_version("processor_agreement")
    version = publish()
    assert checkout(client, fill_cart(client)).status_code == 302
    order = Order.objects.get()
    assert order.agreement_version == version and order.processor_agreement_version == processor


def test_existing_customers_are_asked_to_accept_the_new_version_in_the_portal(
    client, personas, publish
):
    make_order(personas.customer_a)  # accepted the current versions
    version = publish()
    log_in(client, personas.alice)
    assert "nieuwe versies" in client.get(reverse("shop_portal:orders")).content.decode()
    page = client.get(reverse("shop_portal:documents")).content.decode()
    assert f"versie {version}" in page and "Verwerkersovereenkomst" not in page
    assert client.post(reverse("shop_portal:documents-accept"), {}).status_code == 400
    response = client.post(reverse("shop_portal:documents-accept"), {"accept": "on"})
    assert response.status_code == 200
    acceptance = Acceptance.objects.get(document="agreement", version=version)
    assert acceptance.order is None and acceptance.ip_address is not None
    assert acceptance.text_sha256 == documents.document("agreement", version, "nl").sha256
    assert "geaccepteerd" in client.get(reverse("shop_portal:documents")).content.decode()


def test_a_customer_without_any_agreement_has_nothing_to_accept(client, personas, publish):
    publish()
    log_in(client, personas.bob)
    assert "nieuwste versies" in client.get(reverse("shop_portal:documents")).content.decode()


def test_customers_who_accepted_1_0_are_asked_to_accept_the_current_versions_with_every_change_note(
    client, personas
):
    """Customers who accepted 1.0 get the current versions, with what changed since 1.0."""
    order = make_order(personas.customer_a)
    order.acceptances.update(version="1.0")
    log_in(client, personas.alice)
    page = client.get(reverse("shop_portal:documents")).content.decode()
    assert page.count("(versie 2.1)") == 2
    assert "Wat is er veranderd:" in page
    assert "rechtstreeks bij de registry van de extensie" in page  # new in agreement 2.1
    assert "op elk moment opzeggen met een opzegtermijn van één maand" in page  # from 2.0
    assert "volledig aansprakelijk voor zijn subverwerkers" in page
    client.post(reverse("shop_portal:documents-accept"), {"accept": "on"})
    assert set(Acceptance.objects.filter(order=None).values_list("document", "version")) == {
        ("agreement", "2.1"),
        ("processor_agreement", "2.1"),
    }


def test_customers_who_accepted_agreement_2_0_are_asked_again_for_2_1(client, personas):
    """Agreement 2.0 spoke of a registration platform; 2.1 says how we really register."""
    order = make_order(personas.customer_a)
    order.acceptances.filter(document="agreement").update(version="2.0")
    log_in(client, personas.alice)
    page = client.get(reverse("shop_portal:documents")).content.decode()
    assert "(versie 2.1)" in page and "registratieplatform" in page  # the note says what went
    client.post(reverse("shop_portal:documents-accept"), {"accept": "on"})
    accepted = Acceptance.objects.get(order=None, document="agreement")
    assert accepted.version == "2.1"
    assert accepted.text_sha256 == documents.document("agreement", "2.1", "nl").sha256
    after = client.get(reverse("shop_portal:documents")).content.decode()
    assert "registratieplatform" not in after


def test_agreement_2_1_names_no_registration_platform_and_keeps_2_0_otherwise():
    for lang, platform in {"nl": "registratieplatform", "en": "registration platform"}.items():
        old = documents.document("agreement", "2.0", lang).text
        new = documents.document("agreement", "2.1", lang).text
        assert platform in old and platform not in new
        changed = [
            (a, b) for a, b in zip(old.splitlines(), new.splitlines(), strict=True) if a != b
        ]
        assert len(changed) == 2, changed  # the version line and article 6's first paragraph
        assert "privacy" in changed[1][1]


def test_the_2_0_agreement_keeps_consumer_law_and_claims_no_consent():
    for lang, consumer_words in {
        "nl": ["opzegtermijn van één maand", "inclusief btw", "Herroepingsrecht", "ontbinden"],
        "en": ["one month's notice", "include VAT", "Right of withdrawal", "dissolve"],
    }.items():
        text = documents.document("agreement", "2.0", lang).text
        for words in consumer_words:
            assert words in text, (lang, words)
        assert "toestemming voor het doorgeven" not in text and "expressly consent" not in text
        assert "geldt die beperking niet" in text or "limit does not apply" in text
    old = documents.document("agreement", "1.0", "nl").text
    assert "geef je uitdrukkelijk toestemming" in old  # what 2.0 no longer claims


def test_the_2_0_processor_agreement_names_sub_processors_and_art_32_points_from_the_policy():
    from kluis.policy.loader import current_policy

    policy = current_policy()
    for lang in documents.LANGUAGES:
        text = documents.document("processor_agreement", "2.0", lang).text
        assert "[[" not in text
        for point in "abcd":
            assert f"- ({point}) " in text, (lang, point)
        for _key, _recipient, sub in policy.subprocessors():
            assert sub.legal_name in text and sub.city in text
        assert "28 lid 4" in text or "28(4)" in text
    nl = documents.document("processor_agreement", "2.0", "nl").text
    assert "volgens artikel 6 onder g zijn teruggegeven" in nl
    assert "niets anders" not in nl


def _statement_hosted_items(language: str) -> dict[str, str]:
    from kluis.policy.loader import current_policy
    from kluis.policy.render import Items, build_statement

    statement = build_statement(current_policy(), language)
    (section,) = [s for s in statement.sections if s.id == "gehoste-gegevens"]
    (items,) = [b for b in section.blocks if isinstance(b, Items)]
    return {p.key: "".join(span.text for span in p.spans) for p in items.items}


def test_the_statement_and_the_processor_agreement_say_the_same_about_our_own_use():
    """Art. 28(10): both documents state each own use of hosted data, with the same facts."""
    from kluis.policy.loader import current_policy
    from kluis.policy.render import retention_term

    policy = current_policy()
    assert policy.hosted_data, "the policy declares our own use of hosted data"
    for lang in documents.LANGUAGES:
        statement = _statement_hosted_items(lang)
        agreement = documents.document("processor_agreement", "2.1", lang).text
        (article,) = [b for b in agreement.split("\n\n") if b.startswith("4. ")]
        bullets = [line[2:] for line in article.splitlines() if line.startswith("- ")]
        assert sorted(bullets) == sorted(statement.values()), lang
        for key, use in policy.hosted_data.items():
            for text in (statement[key], next(b for b in bullets if use.data.get(lang) in b)):
                assert use.role == "controller"
                assert "verwerkingsverantwoordelijke" in text or "controller" in text
                assert "4 onder 7" in text or "4(7)" in text
                assert use.interest is not None and use.interest.get(lang) in text
                assert "6 lid 1 sub f" in text or "6(1)(f)" in text
                assert retention_term(policy.retention[use.retention], lang) in text
                # Prose, not a form: no "Doel:", "Grondslag:" or "Bewaartermijn:" labels.
                for label in ("Doel:", "Grondslag:", "Bewaartermijn:", "Purpose:", "Basis:"):
                    assert label not in text, (lang, label)


def test_the_2_1_processor_agreement_cites_art_4_7_where_it_sets_out_the_roles():
    for lang, cite in (("nl", "artikel 4 onder 7 AVG"), ("en", "Article 4(7) GDPR")):
        text = documents.document("processor_agreement", "2.1", lang).text
        roles, own_use = (
            next(b for b in text.split("\n\n") if b.startswith(f"{n}. ")) for n in (1, 4)
        )
        assert cite in roles, lang
        assert "4 onder 7" in own_use.splitlines()[0] or "4(7)" in own_use.splitlines()[0]
        assert documents.changes("processor_agreement", "2.1", lang)
    # The published 2.0 keeps the words its customers accepted.
    assert "Grondslag:" in documents.document("processor_agreement", "2.0", "nl").text
