"""The documents a person gave us (a KvK extract) are files in their copy, not base64
text: in the zip by a name of their own, in the mailed answer as a zip beside the JSON
and the PDF, and on Mijn gegevens as a file's description."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import zipfile

import pytest
from django.urls import reverse

from kluis import uploads
from kluis.accounts.models import Customer
from kluis.policy.enforce import Actor
from kluis.rights import emails, legal_requests
from kluis.rights.export import build_export, export_archive, export_json
from kluis.rights.models import IdCopy, RightsRequest
from kluis.rights.pdf import export_pdf
from kluis.rights.tests.conftest import queued, rendered
from kluis.shop.models import KvkExtract
from kluis.shop.testing import make_order
from kluis.testing import log_in, make_staff
from kluis.tests import hostile
from kluis.vault.fields import SealedFileField

pytestmark = pytest.mark.django_db(databases="__all__")


def _extract(customer: Customer, original: bytes) -> bytes:
    """A KvK extract as the shop stores it (kluis.shop.services): cleaned, base64, sealed.
    Returns the bytes stored, which the copy must give back to the byte."""
    clean = uploads.clean_upload(original)
    KvkExtract(
        order=make_order(customer),
        content=base64.b64encode(clean.content).decode(),
        mimetype=clean.mimetype,
        size=len(clean.content),
        sha256=hashlib.sha256(clean.content).hexdigest(),
    ).save(force_insert=True)
    return clean.content


def _export(customer: Customer, language: str = "nl") -> dict:
    return build_export(subject=customer.pk, actor=Actor.subject(customer.pk), language=language)


def _chunks_of(content: bytes) -> list[str]:
    """Stretches of the file's base64, at every offset a JSON dump could start it at."""
    return [base64.b64encode(content[i:])[:48].decode() for i in range(3)]


def test_the_kvk_extract_is_a_file_in_the_copy_byte_identical_and_not_base64(personas):
    alice = personas.customer_a
    stored = _extract(alice, hostile.pdf())
    assert stored.startswith(b"%PDF-")
    for language in ("nl", "en"):
        export = _export(alice, language)
        text = export_json(export).decode()
        assert not any(chunk in text for chunk in _chunks_of(stored))
        shown = json.loads(text)
        [entry] = [f for f in shown["files"] if f["path"].startswith("documenten/")]
        assert entry["path"] == "documenten/kvk-uittreksel.pdf"
        assert entry["mimetype"] == "application/pdf" and entry["size"] == len(stored)
        values = [v["value"] for c in shown["categories"] for v in c["values"]]
        assert "documenten/kvk-uittreksel.pdf" in values  # the value names the file
        with zipfile.ZipFile(io.BytesIO(export_archive(export))) as archive:
            assert archive.read("documenten/kvk-uittreksel.pdf") == stored
            assert not any(
                chunk.encode() in archive.read(name)
                for name in ("mijn-gegevens.json", "mijn-gegevens.pdf")
                for chunk in _chunks_of(stored)
            )
    assert export_pdf(export).startswith(b"%PDF-")


def test_a_second_extract_gets_a_name_of_its_own_with_the_extension_of_its_kind(personas):
    alice = personas.customer_a
    first = _extract(alice, hostile.png(40, 30))
    second = _extract(alice, hostile.pdf())
    third = _extract(alice, hostile.pdf(page_extra="/Rotate 90"))
    export = _export(alice)
    with zipfile.ZipFile(io.BytesIO(export_archive(export))) as archive:
        names = [name for name in archive.namelist() if name.startswith("documenten/")]
        documents = {name: archive.read(name) for name in names}
    assert sorted(documents.values()) == sorted([first, second, third])
    stems = sorted(name.rpartition(".")[0] for name in documents)
    assert stems == [f"documenten/kvk-uittreksel{n}" for n in ("", "-2", "-3")]
    [png] = [name for name in documents if name.endswith(".png")]
    assert documents[png] == first


def test_a_stored_content_type_kluis_does_not_name_takes_the_extension_from_the_bytes(personas):
    alice = personas.customer_a
    stored = _extract(alice, hostile.png(40, 30))
    KvkExtract.objects.update(mimetype="application/octet-stream")
    export = _export(alice)
    [entry] = [f for f in export["files"] if f["path"].startswith("documenten/")]
    assert entry["path"] == "documenten/kvk-uittreksel.png"
    assert export["_file_contents"]["documenten/kvk-uittreksel.png"] == stored


def test_the_mailed_answer_carries_the_documents_beside_the_json_and_the_pdf(client, personas):
    alice = personas.customer_a
    stored = _extract(alice, hostile.pdf())
    request = RightsRequest(
        kind="access",
        channel="staff",
        subject=alice.pk,
        verification="email",
        due_on=dt.date.today(),
    )
    request.requester_email = "alice@example.nl"
    request.save()
    log_in(client, personas.staff["privacy_officer"])
    client.post(reverse("rights_backoffice:respond", kwargs={"request_id": request.pk}))
    mail = rendered(queued(emails.ANSWER)[0])
    names = [a[0] for a in mail.attachments]
    assert names == ["mijn-gegevens.json", "mijn-gegevens.pdf", "mijn-gegevens-bestanden.zip"]
    data = mail.attachments[0][1]
    assert not any(chunk.encode() in data for chunk in _chunks_of(stored))
    with zipfile.ZipFile(io.BytesIO(mail.attachments[2][1])) as archive:
        assert archive.namelist() == ["documenten/kvk-uittreksel.pdf"]
        assert archive.read("documenten/kvk-uittreksel.pdf") == stored
    assert "mijn-gegevens-bestanden.zip" in " ".join(mail.body.split())


def test_mijn_gegevens_describes_the_extract_instead_of_showing_its_base64(personas):
    from django.utils import translation

    from kluis.accounts.selectors import my_data

    translation.activate("nl")
    stored = _extract(personas.customer_a, hostile.pdf())
    values = [v.value for c in my_data(personas.customer_a).categories for v in c.values]
    assert any(v and v.startswith("bestand (PDF,") for v in values)
    assert not any(v and chunk in v for v in values for chunk in _chunks_of(stored))


def test_the_id_copy_is_a_sealed_file_too():
    field = IdCopy._meta.get_field("content")
    assert isinstance(field, SealedFileField)
    assert field.export_name == "documenten/kopie-identiteitsbewijs"


def test_a_police_answer_gives_a_document_as_a_file_in_a_zip_not_as_base64(client, personas):
    alice = personas.customer_a
    stored = _extract(alice, hostile.pdf())
    first, second = personas.staff["privacy_officer"], make_staff(roles=["privacy_officer"])
    police = legal_requests.police_register(
        customer=alice,
        authority="Politie Eenheid Amsterdam",
        legal_basis="art. 126nd Sv",
        order_reference="PL1300-2026-7",
        categories=["kluis.kvk_extract", "user.name"],
        may_inform_subject=True,
        by=first,
    )
    legal_requests.police_decide(
        police=police, approve=True, categories=["kluis.kvk_extract", "user.name"], by=second
    )
    log_in(client, second)
    response = client.post(
        reverse("rights_backoffice:police-answer", kwargs={"police_id": police.pk})
    )
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="vordering-{police.pk}.zip"'
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == sorted(
            [f"vordering-{police.pk}.json", "documenten/kvk-uittreksel.pdf"]
        )
        assert archive.read("documenten/kvk-uittreksel.pdf") == stored
        text = archive.read(f"vordering-{police.pk}.json").decode()
    assert not any(chunk in text for chunk in _chunks_of(stored))
    answer = json.loads(text)
    [document] = [v for v in answer["values"] if v["category"] == "kluis.kvk_extract"]
    assert document["value"] == "documenten/kvk-uittreksel.pdf"
    [entry] = answer["files"]
    assert entry["path"] == document["value"] and entry["size"] == len(stored)
    assert "_file_contents" not in answer
    assert {v["category"] for v in answer["values"]} == {"kluis.kvk_extract", "user.name"}
