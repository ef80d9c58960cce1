"""Files a customer attaches to a help request: checked, sealed, shown with a purpose.

- What a file is, its first bytes decide (kluis/uploads.py): a screenshot or photo
  (PNG, JPEG; decoded and encoded again, metadata gone), a PDF (cleaned) or a log as
  UTF-8 text. An archive or a compressed file is refused before it is opened, so a
  zip bomb never unpacks; an image whose header promises too many pixels is refused
  before it is decoded.
- At most `MAX_FILE_BYTES` a file, `MAX_PER_UPLOAD` files at a time and
  `MAX_PER_REQUEST` files on one help request; a closed request takes none.
- Sealed under the customer's key with the request's messages (`kluis.contact_message`,
  kept for the `contact_request` rule): swept, erased and deleted with the request.
- Opened for `answer_questions` only: by the customer, or by support within the case
  of that help request (each reveal audited). The customer's copy holds each file as
  a file of its own (kluis/rights/export.py), not as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kluis import uploads
from kluis.accounts.models import User
from kluis.audit.chain import audit_append
from kluis.policy.cases import Case
from kluis.policy.enforce import Actor
from kluis.sites.models import HelpAttachment, HelpRequest
from kluis.vault.fields import file_bytes, file_text
from kluis.vault.reveal import reveal_many

PURPOSE = "answer_questions"
MAX_FILE_BYTES = uploads.MAX_BYTES
MAX_PER_UPLOAD = 5
MAX_PER_REQUEST = 10
MAX_NAME = 100


@dataclass(frozen=True)
class Attached:
    """One checked file, ready to be sealed: the name it had and its cleaned bytes."""

    name: str
    clean: uploads.CleanFile


class AttachmentError(Exception):
    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


def _name(upload: UploadedFile) -> str:
    raw = (upload.name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in raw if c.isprintable()).strip()[:MAX_NAME]
    return name or _("bijlage")


def check_files(files: Sequence[UploadedFile], *, required: bool) -> list[Attached]:
    """Each file read (never more than the limit) and cleaned, or ValidationError with
    a Dutch message per refused file, naming it."""
    if not files:
        if required:
            raise forms.ValidationError(_("Kies minstens één bestand om toe te voegen."))
        return []
    if len(files) > MAX_PER_UPLOAD:
        raise forms.ValidationError(
            _("Voeg hoogstens %(n)s bestanden tegelijk toe.") % {"n": MAX_PER_UPLOAD}
        )
    checked: list[Attached] = []
    errors: list[str] = []
    for upload in files:
        name = _name(upload)
        data = upload.read(MAX_FILE_BYTES + 1)
        try:
            clean = uploads.clean_upload(data, accept=uploads.ATTACHMENTS, max_bytes=MAX_FILE_BYTES)
        except uploads.UploadRefused as refused:
            words = uploads.message(refused, accept=uploads.ATTACHMENTS)
            errors.append(f"{name}: {words}")
            continue
        checked.append(Attached(name, clean))
    if errors:
        raise forms.ValidationError(errors)
    return checked


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.Field):
    """Several files in one input; cleaned into `Attached` files by `check_files`."""

    widget = MultipleFileInput

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label", gettext_lazy("Bijlagen"))
        kwargs.setdefault(
            "help_text",
            gettext_lazy(
                "Schermafbeeldingen (PNG, JPEG), PDF's of logbestanden (tekst); hoogstens "
                "5 bestanden tegelijk, elk tot 10 MB."
            ),
        )
        super().__init__(*args, **kwargs)

    def clean(self, value: Any) -> list[Attached]:
        files = [f for f in (value or []) if isinstance(f, UploadedFile)]
        return check_files(files, required=self.required)


class AttachForm(forms.Form):
    attachments = AttachmentsField()


def attachments_add(
    *, request: HelpRequest, files: Sequence[Attached], by: User
) -> list[HelpAttachment]:
    """Seal `files` on the customer's own open help request: all of them, or none."""
    if by.is_staff_member or by.customer_id != request.customer_id:
        raise AttachmentError(_("Deze hulpvraag is niet van jou."))
    if not files:
        return []
    with transaction.atomic():
        locked = HelpRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status == HelpRequest.Status.CLOSED:
            raise AttachmentError(_("Deze hulpvraag is gesloten."))
        held = locked.attachments.count()
        if held + len(files) > MAX_PER_REQUEST:
            raise AttachmentError(
                _("Een hulpvraag heeft hoogstens %(max)s bijlagen; er kunnen er nog %(left)s bij.")
                % {"max": MAX_PER_REQUEST, "left": max(MAX_PER_REQUEST - held, 0)}
            )
        number = locked.attachments.aggregate(n=Max("number"))["n"] or 0
        made = []
        for attached in files:
            number += 1
            row = HelpAttachment(
                help_request=locked,
                customer_id=locked.customer_id,
                number=number,
                mimetype=attached.clean.mimetype,
                size=len(attached.clean.content),
            )
            row.name = attached.name
            row.content = file_text(attached.clean.content)
            row.save(force_insert=True)
            made.append(row)
        audit_append(
            action="sites.help_attachments_added",
            actor=by.actor().ref,
            subject=locked.customer_id,
            data={"help_request": str(locked.pk), "count": len(made)},
        )
    return made


def attachment_names(
    rows: Sequence[HelpAttachment], *, actor: Actor, case: Case | None = None
) -> list[tuple[HelpAttachment, str]]:
    """The rows with the names they had (a shredded name reads as "bijlage N")."""
    plain = reveal_many(rows, ["name"], purpose=PURPOSE, actor=actor, case=case)
    return [
        (row, opened["name"] or _("bijlage %(n)s") % {"n": row.number})
        for row, opened in zip(rows, plain, strict=True)
    ]


def attachment_file(
    row: HelpAttachment, *, actor: Actor, case: Case | None = None
) -> tuple[str, bytes]:
    """The name and the bytes of one attachment, revealed for `answer_questions`."""
    [opened] = reveal_many([row], ["name", "content"], purpose=PURPOSE, actor=actor, case=case)
    content = opened["content"]
    if content is None:
        raise AttachmentError(_("Deze bijlage is er niet meer."))
    return opened["name"] or "bijlage", file_bytes(content)
