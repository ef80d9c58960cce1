"""The KvK extract: asked only for a company's domain; PDF/PNG/JPEG, at most 10 MB, stripped."""

from __future__ import annotations

import base64
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from kluis.audit.models import AuditEntry
from kluis.shop.models import KvkExtract, Order
from kluis.shop.tests.helpers import checkout, fill_cart
from kluis.tests import hostile
from kluis.uploads import MAX_BYTES, UploadRefused, clean_upload

COMPANY = {
    "kind": "organisation",
    "company_name": "Visser Webdesign B.V.",
    "kvk_number": "12345678",
    "legal_form": "bv",
}


def _png_with_metadata() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Eva Visser, Lindengracht 12")
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x013B] = "Eva Visser"  # Artist
    exif[0x8825] = {2: (52.0, 22.0, 0.0)}  # GPS
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, format="JPEG", exif=exif)
    return out.getvalue()


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)


def test_a_png_is_re_encoded_without_its_text_chunks():
    clean = clean_upload(_png_with_metadata())
    assert clean.mimetype == "image/png"
    assert b"Eva Visser" not in clean.content and b"tEXt" not in clean.content
    assert Image.open(io.BytesIO(clean.content)).size == (40, 30)


def test_a_jpeg_is_re_encoded_without_exif():
    raw = _jpeg_with_exif()
    assert b"Eva Visser" in raw
    clean = clean_upload(raw)
    assert clean.mimetype == "image/jpeg"
    assert b"Eva Visser" not in clean.content and b"Exif" not in clean.content


def test_a_pdf_loses_its_document_information():
    clean = clean_upload(hostile.pdf())
    assert clean.mimetype == "application/pdf"
    assert b"Eva Visser" not in clean.content and b"Scanner 3000" not in clean.content
    assert clean.content.startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (SVG, "type"),  # an SVG renamed .png: its bytes say what it is
        (b"MZ\x90\x00" + b"\x00" * 100, "type"),
        (b"", "empty"),
        (hostile.pdf("/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "), "pdf_active"),
        (hostile.pdf("/Names << /EmbeddedFiles << /Names [] >> >> "), "pdf_active"),
        (b"%PDF-1.4\ngarbage", "broken"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "broken"),
        (b"\xff\xd8\xff" + b"\x00" * (MAX_BYTES), "too_large"),
    ],
)
def test_what_is_refused(data, reason):
    with pytest.raises(UploadRefused) as refused:
        clean_upload(data)
    assert str(refused.value) == reason


@pytest.mark.django_db(databases="__all__")
def test_a_company_registering_a_domain_uploads_the_extract_and_it_is_stored_sealed(
    client, catalogue
):
    token = fill_cart(client, domains=("visser.nl",))
    upload = SimpleUploadedFile("uittreksel.png", _png_with_metadata(), content_type="image/png")
    response = checkout(client, token, kvk_extract=upload, **COMPANY)
    assert response.status_code == 302, response.context["form"].errors
    extract = KvkExtract.objects.get()
    raw = KvkExtract.objects.filter(pk=extract.pk).values_list("content", flat=True)[0]
    assert b"PNG" not in bytes(raw)
    opened = base64.b64decode(extract.content.open())
    assert opened.startswith(b"\x89PNG") and b"Eva Visser" not in opened
    assert extract.content.category == "kluis.kvk_extract"
    assert Order.objects.get().customer.kvk_number is not None


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("uittreksel.png", SVG, "Dit bestand is dat niet"),
        ("uittreksel.pdf", hostile.pdf("/OpenAction << /S /JavaScript /JS (x) >> "), "scripts"),
        ("uittreksel.pdf", hostile.pdf_open_action_hex_escaped(), "scripts"),
        ("uittreksel.pdf", hostile.pdf_page_additional_action(), "scripts"),
        ("uittreksel.pdf", hostile.html_behind_pdf_header(), "beschadigd"),
        ("uittreksel.png", hostile.png_bomb(), "te veel beeldpunten"),
    ],
)
def test_a_misnamed_or_script_carrying_upload_gets_a_clear_error_and_no_order(
    client, catalogue, name, data, message
):
    token = fill_cart(client, domains=("visser.nl",))
    upload = SimpleUploadedFile(name, data, content_type="image/png")
    response = checkout(client, token, kvk_extract=upload, **COMPANY)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Order.objects.exists()


@pytest.mark.django_db(databases="__all__")
def test_an_oversized_upload_is_refused(client, catalogue):
    token = fill_cart(client, domains=("visser.nl",))
    upload = SimpleUploadedFile(
        "groot.pdf", b"%PDF-1.4\n" + b"0" * MAX_BYTES, content_type="application/pdf"
    )
    response = checkout(client, token, kvk_extract=upload, **COMPANY)
    assert response.status_code == 400
    assert "10 MB" in response.content.decode()
    assert not Order.objects.exists()


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    ("fields", "error"), [({"kvk_number": "1234567"}, "8 cijfers"), ({}, "uittreksel")]
)
def test_a_dutch_company_with_a_domain_must_give_kvk_number_and_extract(
    client, catalogue, fields, error
):
    token = fill_cart(client, domains=("visser.nl",))
    response = checkout(client, token, **{**COMPANY, **fields})
    assert response.status_code == 400
    assert error in response.content.decode().lower()


@pytest.mark.django_db(databases="__all__")
def test_no_kvk_is_asked_or_kept_for_a_company_without_a_domain(client, catalogue):
    token = fill_cart(client)
    upload = SimpleUploadedFile("u.png", _png_with_metadata(), content_type="image/png")
    assert checkout(client, token, kvk_extract=upload, **COMPANY).status_code == 302
    assert not KvkExtract.objects.exists()
    assert Order.objects.get().customer.kvk_number is None


@pytest.mark.django_db(databases="__all__")
def test_a_dutch_company_with_a_domain_chooses_its_legal_form_and_it_is_kept(client, catalogue):
    token = fill_cart(client, domains=("visser.nl",))
    upload = SimpleUploadedFile("u.png", _png_with_metadata(), content_type="image/png")
    without = {k: v for k, v in COMPANY.items() if k != "legal_form"}
    refused = checkout(client, token, kvk_extract=upload, **without)
    assert refused.status_code == 400
    assert "Kies de rechtsvorm van je bedrijf." in refused.content.decode()
    upload.seek(0)
    unknown = checkout(client, token, kvk_extract=upload, **{**COMPANY, "legal_form": "bvba"})
    assert unknown.status_code == 400 and not Order.objects.exists()
    upload.seek(0)
    response = checkout(client, token, kvk_extract=upload, **{**COMPANY, "legal_form": "stichting"})
    assert response.status_code == 302, response.context["form"].errors
    customer = Order.objects.get().customer
    assert customer.legal_form == "stichting"  # chosen, not read from "B.V." in the name
    assert AuditEntry.objects.filter(action="accounts.legal_form_set", subject=customer.pk).exists()


@pytest.mark.django_db(databases="__all__")
def test_no_legal_form_is_asked_or_kept_without_a_dutch_company_domain(client, catalogue):
    token = fill_cart(client)  # no domain
    assert checkout(client, token, **{**COMPANY, "legal_form": "bv"}).status_code == 302
    assert Order.objects.get().customer.legal_form == ""
