"""Verification by ID copy (R37): only when the officer asks, masked, cleaned, destroyed."""

from __future__ import annotations

import base64
import io
import re

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from kluis.audit.models import AuditEntry
from kluis.rights import emails, services
from kluis.rights.models import IdCopy, RightsRequest
from kluis.rights.tests.conftest import queued, rendered
from kluis.testing import log_in
from kluis.tests import hostile
from kluis.uploads import MAX_BYTES, UploadRefused, clean_upload
from kluis.vault.models import DataKey

pytestmark = pytest.mark.django_db(databases="__all__")


def _jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (32, 20), "white")
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x013B] = "Alice de Vries"  # Artist
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def _upload_link(request: RightsRequest) -> str:
    body = rendered(queued(emails.ID_REQUEST)[0]).body
    link = re.search(r"http\S+/privacy/verzoek/identiteit/\S+/", body).group(0)
    return link[link.index("/privacy/") :]


def test_no_model_has_a_place_for_a_bsn():
    names = [f.name.lower() for m in apps.get_models() for f in m._meta.get_fields()]
    assert not [n for n in names if "bsn" in n or "burgerservice" in n]


def test_an_id_copy_is_asked_cleaned_sealed_and_destroyed_when_decided(client, personas):
    officer = personas.staff["privacy_officer"]
    request = services.request_from_portal(user=personas.alice, kind="restriction")
    services.verification_ask_id_copy(request=request, by=officer)
    path = _upload_link(request)
    assert client.get(path).status_code == 200

    photo = SimpleUploadedFile("id.jpg", _jpeg_with_exif(), content_type="image/jpeg")
    unmasked = client.post(path, {"document": photo, "bsn_masked": "on"})
    assert unmasked.status_code == 200 and not IdCopy.objects.exists()

    photo = SimpleUploadedFile("id.jpg", _jpeg_with_exif(), content_type="image/jpeg")
    done = client.post(path, {"document": photo, "bsn_masked": "on", "photo_masked": "on"})
    assert done.status_code == 200 and "vernietigen" in done.content.decode()
    copy = IdCopy.objects.get(request=request)
    stored = base64.b64decode(copy.content.open())
    assert stored.startswith(b"\xff\xd8\xff")
    assert not Image.open(io.BytesIO(stored)).getexif()
    assert b"Alice de Vries" not in stored
    assert client.get(path).status_code == 400  # the link was single use

    services.verification_decide(request=request, verified=True, customer=None, by=officer)
    request.refresh_from_db()
    assert request.status == "open" and request.verification == "id_copy"
    assert not IdCopy.objects.exists()
    key = DataKey.objects.get(subject=request.pk, retention_class="id_verification")
    assert key.is_shredded
    assert AuditEntry.objects.filter(action="rights.id_copy_destroyed").exists()


def test_a_refused_verification_destroys_the_copy_and_answers_why(personas):
    officer = personas.staff["privacy_officer"]
    request = services.request_from_portal(user=personas.alice, kind="objection")
    services.verification_ask_id_copy(request=request, by=officer)
    services.id_copy_store(request=request, content=_jpeg_with_exif())
    services.verification_decide(request=request, verified=False, customer=None, by=officer)
    request.refresh_from_db()
    assert request.status == "refused" and not IdCopy.objects.exists()
    assert "niet vaststellen" in rendered(queued(emails.ANSWER)[0]).body


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GIF89a" + b"\x00" * 20, "type"),
        (b"MZ\x90\x00 an executable", "type"),
        (b"\xff\xd8\xff" + b"\x00" * 64, "broken"),
        (hostile.pdf_open_action_hex_escaped(), "pdf_active"),
        (hostile.pdf_embedded_file_in_names(), "pdf_active"),
        (hostile.html_behind_pdf_header(), "broken"),
        (hostile.png_bomb(), "too_many_pixels"),
        (hostile.pdf(), "pdf_no_image"),  # nothing the officer could look at
    ],
)
def test_bad_uploads_are_refused_with_a_reason(data, reason):
    with pytest.raises(UploadRefused) as refused:
        clean_upload(data, pdf_needs_image=True)
    assert str(refused.value) == reason


def test_an_upload_over_ten_megabytes_is_refused():
    with pytest.raises(UploadRefused, match="too_large"):
        clean_upload(b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_BYTES)


def test_a_scanned_pdf_is_kept_without_its_document_information():
    scanned = hostile.scanned_pdf()
    clean = clean_upload(scanned, pdf_needs_image=True)
    assert clean.mimetype == "application/pdf" and clean.content.startswith(b"%PDF-")
    assert b"/Producer" not in clean.content


def _awaiting(personas) -> tuple[RightsRequest, str]:
    officer = personas.staff["privacy_officer"]
    request = services.request_from_portal(user=personas.alice, kind="objection")
    services.verification_ask_id_copy(request=request, by=officer)
    return request, _upload_link(request)


@pytest.mark.parametrize("name", sorted(hostile.HOSTILE))
def test_every_hostile_file_is_refused_on_the_upload_page_with_a_clear_error(
    client, personas, name
):
    request, path = _awaiting(personas)
    data = hostile.HOSTILE[name]()
    upload = SimpleUploadedFile("id.pdf", data, content_type="application/pdf")
    response = client.post(path, {"document": upload, "bsn_masked": "on", "photo_masked": "on"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="error-summary"' in body and "Traceback" not in body
    assert not IdCopy.objects.exists()
    request.refresh_from_db()
    assert request.status == "awaiting_id" and request.link_nonce


@pytest.mark.parametrize("name", sorted(hostile.HOSTILE))
def test_the_service_refuses_what_the_form_would(personas, name):
    request, _path = _awaiting(personas)
    with pytest.raises(UploadRefused):
        services.id_copy_store(request=request, content=hostile.HOSTILE[name]())
    assert not IdCopy.objects.exists()


@pytest.mark.parametrize("kind", ["jpeg", "pdf"])
def test_the_officer_sees_a_picture_drawn_on_the_server_never_the_file(client, personas, kind):
    data = _jpeg_with_exif() if kind == "jpeg" else hostile.scanned_pdf()
    request, path = _awaiting(personas)
    upload = SimpleUploadedFile(f"id.{kind}", data, content_type="application/octet-stream")
    client.post(path, {"document": upload, "bsn_masked": "on", "photo_masked": "on"})
    stored = base64.b64decode(IdCopy.objects.get(request=request).content.open())

    log_in(client, personas.staff["privacy_officer"])
    page = client.get(f"/backoffice/privacy/verzoek/{request.pk}/id-kopie/")
    assert page.status_code == 200
    assert f"/backoffice/privacy/verzoek/{request.pk}/id-kopie/beeld.png" in page.content.decode()
    image = client.get(f"/backoffice/privacy/verzoek/{request.pk}/id-kopie/beeld.png")
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert image["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in image["Content-Security-Policy"]
    assert image["X-Content-Type-Options"] == "nosniff"
    assert image.content.startswith(b"\x89PNG") and image.content != stored
    assert Image.open(io.BytesIO(image.content)).width >= 32


def test_the_upload_page_shows_a_clear_error_for_a_wrong_file(client, personas):
    officer = personas.staff["privacy_officer"]
    request = services.request_from_portal(user=personas.alice, kind="objection")
    services.verification_ask_id_copy(request=request, by=officer)
    wrong = SimpleUploadedFile("id.png", b"<html>not an image</html>", content_type="image/png")
    response = client.post(
        _upload_link(request), {"document": wrong, "bsn_masked": "on", "photo_masked": "on"}
    )
    assert response.status_code == 200
    assert "Dit bestand is dat niet" in response.content.decode()
    request.refresh_from_db()
    assert request.status == "awaiting_id" and request.link_nonce  # the link still works
