"""The upload module every upload goes through: what it refuses, keeps and serves."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from kluis import uploads
from kluis.tests import hostile


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("pdf_open_action_hex_escaped", "pdf_active"),
        ("pdf_page_additional_action", "pdf_active"),
        ("pdf_embedded_file_in_names", "pdf_active"),
        ("html_behind_pdf_header", "broken"),
        ("png_bomb", "too_many_pixels"),
    ],
)
def test_every_hostile_file_is_refused_with_its_reason(name, reason):
    with pytest.raises(uploads.UploadRefused) as refused:
        uploads.clean_upload(hostile.HOSTILE[name]())
    assert refused.value.reason == reason
    assert uploads.message(refused.value)  # words for the person, never a library's


def test_hex_escaped_names_are_invisible_to_a_scan_of_the_raw_bytes():
    data = hostile.pdf_open_action_hex_escaped()
    assert b"/JavaScript" not in data and b"/OpenAction" not in data and b"/JS " not in data


def test_the_bomb_is_small_on_the_wire_and_refused_before_it_is_decoded():
    bomb = hostile.png_bomb()
    assert len(bomb) < 500_000
    width, height = struct.unpack(">II", bomb[16:24])  # IHDR, before any pixel
    assert (width, height) == (20000, 20000)


def test_a_pdf_is_rewritten_from_its_pages_without_document_information():
    clean = uploads.clean_upload(hostile.pdf())
    assert clean.mimetype == uploads.PDF and clean.content.startswith(b"%PDF-")
    assert b"Eva Visser" not in clean.content and b"Scanner 3000" not in clean.content


def test_an_image_is_encoded_again_from_its_pixels():
    raw = hostile.png(text="Eva Visser, Lindengracht 12") + b"<script>alert(1)</script>"
    clean = uploads.clean_upload(raw)
    assert clean.mimetype == uploads.PNG
    assert b"Eva Visser" not in clean.content and b"<script>" not in clean.content
    assert Image.open(io.BytesIO(clean.content)).size == (60, 40)


def test_a_statement_is_judged_by_its_head():
    assert uploads.check_head(b'<?xml version="1.0"?><Document', accept=uploads.STATEMENTS)
    assert uploads.check_head(b"\xef\xbb\xbf<Document xmlns=", accept=uploads.STATEMENTS)
    assert uploads.check_head(b"PK\x03\x04rest", accept=uploads.STATEMENTS) == uploads.ZIP
    for data in (hostile.html_behind_pdf_header(), hostile.png_bomb()[:64], b"<html>"):
        with pytest.raises(uploads.UploadRefused):
            uploads.check_head(data[:64], accept=uploads.STATEMENTS)


def test_the_preview_is_a_new_png_drawn_from_the_pixels():
    for content, mimetype in (
        (uploads.clean_upload(hostile.png()).content, uploads.PNG),
        (uploads.clean_upload(hostile.scanned_pdf()).content, uploads.PDF),
    ):
        preview = uploads.render_preview(content, mimetype, caption="alleen ter controle")
        assert preview.startswith(b"\x89PNG") and preview != content


def test_a_file_is_served_only_as_a_sandboxed_attachment():
    response = uploads.attachment_response(b"%PDF-1.4", mimetype=uploads.PDF, filename='a"b/../c')
    assert response["Content-Disposition"] == 'attachment; filename="abc.pdf"'
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"
