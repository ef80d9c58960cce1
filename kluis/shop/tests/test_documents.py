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
    """Publish agreement 1.1 (a copy of the documents with one more version)."""

    def publish() -> str:
        root = tmp_path / "documents"
        shutil.copytree(documents.ROOT, root)
        for lang in documents.LANGUAGES:
            old = (root / "agreement" / f"1.0.{lang}.txt").read_text()
            new = old.replace("1.0", "1.1") + "\n9. Nieuw\nNieuw artikel.\n"
            (root / "agreement" / f"1.1.{lang}.txt").write_text(new)
        monkeypatch.setattr(documents, "ROOT", root)
        return "1.1"

    return publish


def test_every_document_exists_in_dutch_and_english_with_a_version():
    for kind in documents.KINDS:
        assert documents.current_version(kind) == "1.0"
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
    publish()
    assert checkout(client, fill_cart(client)).status_code == 302
    order = Order.objects.get()
    assert order.agreement_version == "1.1" and order.processor_agreement_version == "1.0"


def test_existing_customers_are_asked_to_accept_the_new_version_in_the_portal(
    client, personas, publish
):
    make_order(personas.customer_a)  # accepted 1.0
    publish()
    log_in(client, personas.alice)
    assert "nieuwe versies" in client.get(reverse("shop_portal:orders")).content.decode()
    page = client.get(reverse("shop_portal:documents")).content.decode()
    assert "versie 1.1" in page and "Verwerkersovereenkomst" not in page
    assert client.post(reverse("shop_portal:documents-accept"), {}).status_code == 400
    response = client.post(reverse("shop_portal:documents-accept"), {"accept": "on"})
    assert response.status_code == 200
    acceptance = Acceptance.objects.get(document="agreement", version="1.1")
    assert acceptance.order is None and acceptance.ip_address is not None
    assert acceptance.text_sha256 == documents.document("agreement", "1.1", "nl").sha256
    assert "geaccepteerd" in client.get(reverse("shop_portal:documents")).content.decode()


def test_a_customer_without_any_agreement_has_nothing_to_accept(client, personas, publish):
    publish()
    log_in(client, personas.bob)
    assert "nieuwste versies" in client.get(reverse("shop_portal:documents")).content.decode()
