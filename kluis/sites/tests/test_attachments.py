"""Attachments of a help request: checked by content, sealed, shown with a purpose,
in the customer's copy as files of their own, and refused in Dutch when bad."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from kluis.audit.models import RevealRecord
from kluis.policy.enforce import Actor
from kluis.rights.export import build_export, export_archive, export_json
from kluis.sites import attachments
from kluis.sites.models import HelpAttachment, HelpRequest
from kluis.sites.testing import make_attachment, make_help_request, make_site
from kluis.testing import log_in
from kluis.tests import hostile
from kluis.vault.tests.test_canary import _haystack

pytestmark = pytest.mark.django_db(databases="__all__")

LOG = b"2026-12-05 10:00:01 PHP Fatal error: Uncaught Error in winkelwagen.php:12\n"


def _file(name: str, content: bytes, kind: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=kind)


def _zip_bomb() -> bytes:
    """A small zip that unpacks to 100 MB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("nullen.log", b"\0" * 100_000_000)
    return buffer.getvalue()


def test_a_customer_attaches_files_when_asking_and_gets_them_back(client, personas):
    site = make_site(personas.customer_a)
    log_in(client, personas.alice)
    screenshot = hostile.png(80, 50, text="Geheim commentaar in de PNG")
    response = client.post(
        reverse("sites_portal:help-request-new"),
        {
            "about": "site",
            "site": site.pk,
            "message": "De winkelwagen geeft een fout.",
            "attachments": [
                _file("scherm jan.png", screenshot, "image/png"),
                _file("fout.log", LOG, "text/plain"),
            ],
        },
    )
    assert response.status_code == 302
    help_request = HelpRequest.objects.get(customer=personas.customer_a)
    rows = list(help_request.attachments.order_by("number"))
    assert [(r.number, r.mimetype) for r in rows] == [(1, "image/png"), (2, "text/plain")]
    # Sealed: neither the log nor the file's name is anywhere in the database.
    haystack = _haystack("default")
    assert LOG not in haystack
    assert b"scherm jan" not in haystack
    page = client.get(reverse("sites_portal:help-request", kwargs={"request_id": help_request.pk}))
    assert "scherm jan.png" in page.content.decode()
    download = client.get(
        reverse("sites_portal:help-attachment", kwargs={"attachment_id": rows[1].pk})
    )
    assert download.content == LOG
    assert download["Content-Disposition"] == 'attachment; filename="fout.txt"'
    assert "sandbox" in download["Content-Security-Policy"]
    image = client.get(
        reverse("sites_portal:help-attachment", kwargs={"attachment_id": rows[0].pk})
    )
    # Encoded again from its pixels: the text chunk is gone.
    assert image.content.startswith(b"\x89PNG") and b"Geheim commentaar" not in image.content


# Named by file: the generated contents (a zip's timestamps) may differ between the
# test workers, and xdist needs the same test ids in each.
BAD_FILES = [
    ("groot.log", b"a" * (attachments.MAX_FILE_BYTES + 1), "groter dan 10 MB"),
    ("leeg.png", b"", "Dit bestand is leeg."),
    ("virus.png", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "Dit bestand is dat niet"),
    ("logs.zip", _zip_bomb(), "Een archief of gecomprimeerd bestand"),
    ("log.txt.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 50, "Een archief of gecomprimeerd bestand"),
    ("bom.png", hostile.png_bomb(), "te veel beeldpunten"),
    ("binair.txt", b"tekst\x00\x01\x02binair", "Dit bestand is dat niet"),
    ("kapot.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "beschadigd of onvolledig"),
]


@pytest.mark.parametrize(
    ("name", "content", "words"), BAD_FILES, ids=[name for name, _c, _w in BAD_FILES]
)
def test_bad_files_are_refused_in_dutch_and_nothing_is_kept(client, personas, name, content, words):
    translation.activate("nl")
    help_request = make_help_request(make_site(personas.customer_a))
    log_in(client, personas.alice)
    response = client.post(
        reverse("sites_portal:help-attach", kwargs={"request_id": help_request.pk}),
        {"attachments": [_file("goed.log", LOG), _file(name, content)]},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert words in body
    assert name in body  # the message says which file
    assert not HelpAttachment.objects.exists()  # not even the good one


def test_zero_files_and_too_many_files_are_refused_in_dutch(client, personas):
    translation.activate("nl")
    help_request = make_help_request(make_site(personas.customer_a))
    log_in(client, personas.alice)
    url = reverse("sites_portal:help-attach", kwargs={"request_id": help_request.pk})
    none = client.post(url, {})
    assert none.status_code == 400
    assert "Kies minstens één bestand om toe te voegen." in none.content.decode()
    many = client.post(url, {"attachments": [_file(f"{n}.log", LOG) for n in range(6)]})
    assert many.status_code == 400
    assert "Voeg hoogstens 5 bestanden tegelijk toe." in many.content.decode()
    for _round in range(2):
        ok = client.post(url, {"attachments": [_file(f"{n}.log", LOG) for n in range(5)]})
        assert ok.status_code == 302
    full = client.post(url, {"attachments": [_file("nog een.log", LOG)]}, follow=True)
    assert "Een hulpvraag heeft hoogstens 10 bijlagen; er kunnen er nog 0 bij." in (
        full.content.decode()
    )
    assert help_request.attachments.count() == attachments.MAX_PER_REQUEST


def test_support_opens_an_attachment_within_the_help_request_and_it_is_audited(client, personas):
    site = make_site(personas.customer_a)
    row = make_attachment(site, personas.alice)
    support = personas.staff["support"]
    log_in(client, support)
    page = client.get(
        reverse("sites_backoffice:help-request", kwargs={"request_id": row.help_request_id})
    )
    assert "fout.log" in page.content.decode()
    url = reverse("sites_backoffice:help-attachment", kwargs={"attachment_id": row.pk})
    before = RevealRecord.objects.count()
    response = client.get(url)
    assert response.content.startswith(b"PHP Fatal error")
    seen = RevealRecord.objects.order_by("-at", "-pk").first()
    assert RevealRecord.objects.count() > before
    assert seen is not None and seen.purpose == "answer_questions"
    assert seen.case == f"help_request:{row.help_request_id}"
    # Closed: the case is over, the file is no longer opened for support.
    HelpRequest.objects.filter(pk=row.help_request_id).update(status="closed")
    closed = client.get(url)
    assert closed.status_code == 302
    assert b"PHP" not in closed.content


def test_another_customer_cannot_attach_or_download(client, personas):
    row = make_attachment(make_site(personas.customer_a), personas.alice)
    log_in(client, personas.bob)
    assert (
        client.get(
            reverse("sites_portal:help-attachment", kwargs={"attachment_id": row.pk})
        ).status_code
        == 404
    )
    with pytest.raises(attachments.AttachmentError):
        attachments.attachments_add(request=row.help_request, files=[], by=personas.bob)


def test_the_copy_holds_each_attachment_as_a_file_of_its_own(personas):
    screenshot = hostile.png(30, 20)
    site = make_site(personas.customer_a)
    row = make_attachment(site, personas.alice, content=LOG)
    from kluis import uploads

    clean = uploads.clean_upload(screenshot, accept=uploads.ATTACHMENTS)
    attachments.attachments_add(
        request=row.help_request,
        files=[attachments.Attached("scherm.png", clean)],
        by=personas.alice,
    )
    subject = personas.customer_a.pk
    export = build_export(subject=subject, actor=Actor.subject(subject), language="nl")
    text = export_json(export).decode()
    paths = [f["path"] for f in json.loads(text)["files"]]
    assert paths == ["bestanden/001.txt", "bestanden/002.png"] or paths == [
        "bestanden/001.png",
        "bestanden/002.txt",
    ]
    assert "PHP Fatal" not in text  # no file inside the JSON, not even as base64
    assert base64.b64encode(LOG).decode()[:40] not in text
    values = [v["value"] for c in json.loads(text)["categories"] for v in c["values"]]
    assert set(paths) <= set(values)  # the value names the file by its path
    assert "fout.log" in values  # the name it had is a sealed value like any other
    with zipfile.ZipFile(io.BytesIO(export_archive(export))) as archive:
        names = set(archive.namelist())
        assert {"mijn-gegevens.json", "mijn-gegevens.pdf", *paths} <= names
        files = {path: archive.read(path) for path in paths}
    assert LOG in files.values()
    assert clean.content in files.values()


def test_attachments_go_with_their_help_request(personas):
    row = make_attachment(make_site(personas.customer_a), personas.alice)
    field = HelpAttachment._meta.get_field("content")
    message = HelpRequest._meta.get_field("message")
    # Sealed in the same retention class, under the same key, as the request itself.
    assert field.retention_class() == message.retention_class() == "contact_request"
    HelpRequest.objects.filter(pk=row.help_request_id).delete()
    assert not HelpAttachment.objects.exists()


def test_my_data_names_an_attachment_without_showing_its_bytes(personas):
    from kluis.accounts.selectors import my_data

    translation.activate("nl")
    make_attachment(make_site(personas.customer_a), personas.alice, content=LOG)
    shown = my_data(personas.customer_a)
    values = [v.value for c in shown.categories for v in c.values]
    assert f"bestand (TXT, {len(LOG)}\xa0bytes), in de kopie van je gegevens" in values
    assert not any(v and base64.b64encode(LOG).decode()[:40] in v for v in values)
