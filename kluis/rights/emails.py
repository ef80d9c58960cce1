"""The rights app's mail: one kind each, rendered at delivery from the request id.

Every mail goes to the request's own subject id (`to_subject=request.pk`), so the
answer to an erasure still reaches the person after their own keys are gone, and
carries no personal value in its references: the links are made at delivery from a
keystore secret (kluis.rights.links) and the answer from the request's outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from kluis.mail.kinds import attachment_generator, mail_kind
from kluis.mail.models import OutboxMessage
from kluis.mail.services import AttachmentRef, mail_queue
from kluis.policy.enforce import Actor
from kluis.rights import links
from kluis.rights.models import RightsRequest

CONFIRM = "rights/email/confirm"
ID_REQUEST = "rights/email/id_request"
EXTENDED = "rights/email/extended"
ANSWER = "rights/email/answer"
RESTRICTION_END = "rights/email/restriction_end"
EXPORT_JSON = "rights.export_json"
EXPORT_PDF = "rights.export_pdf"
EXPORT_FILES = "rights.export_files"
# The files of the copy (uploads, attachments), by the names its JSON gives them.
FILES_NAME = "mijn-gegevens-bestanden.zip"


def _request(context: Mapping[str, Any]) -> RightsRequest:
    return RightsRequest.objects.get(pk=context["request_id"])


def _base(request: RightsRequest) -> dict[str, Any]:
    with translation.override(request.language):
        kind = str(request.get_kind_display())
    return {
        "kind": kind,
        "received": request.received_at.date(),
        "deadline": request.deadline,
    }


@mail_kind(template=CONFIRM, purpose="identity_verification", references={"request_id"})
def _confirm(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    request = _request(context)
    token = links.link_token(request, links.CONFIRM)
    link = settings.KLUIS_BASE_URL + reverse("rights:confirm", kwargs={"token": token})
    return {**_base(request), "link": link}


@mail_kind(template=ID_REQUEST, purpose="identity_verification", references={"request_id"})
def _id_request(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    request = _request(context)
    token = links.link_token(request, links.UPLOAD)
    link = settings.KLUIS_BASE_URL + reverse("rights:id-upload", kwargs={"token": token})
    return {**_base(request), "link": link}


@mail_kind(template=EXTENDED, purpose="data_subject_rights", references={"request_id"})
def _extended(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    request = _request(context)
    return {**_base(request), "reason": request.extension_reason, "first_due": request.due_on}


@mail_kind(template=ANSWER, purpose="data_subject_rights", references={"request_id", "stage"})
def _answer(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    from kluis.rights.selectors import answer_lines

    request = _request(context)
    with translation.override(request.language):
        lines = answer_lines(request, stage=context.get("stage"))
    return {**_base(request), "request": request, "lines": lines}


@mail_kind(
    template=RESTRICTION_END, purpose="data_subject_rights", references={"request_id", "limit_id"}
)
def _restriction_end(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    from kluis.rights.models import ProcessingLimit
    from kluis.rights.selectors import remedies

    request = _request(context)
    limit = ProcessingLimit.objects.get(pk=context["limit_id"])
    with translation.override(request.language):
        return {**_base(request), "ends_on": limit.ends_on, "remedies": remedies()}


def _export_of(ref: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    """The copy an attachment of the answer is made from, built at delivery."""
    from kluis.rights.export import build_export

    request = RightsRequest.objects.get(pk=ref["request_id"])
    assert request.subject is not None
    return build_export(subject=request.subject, actor=actor, language=request.language)


@attachment_generator(EXPORT_JSON)
def _export_json(ref: Mapping[str, Any], actor: Actor) -> bytes:
    from kluis.rights.export import export_json

    return export_json(_export_of(ref, actor))


@attachment_generator(EXPORT_PDF)
def _export_pdf(ref: Mapping[str, Any], actor: Actor) -> bytes:
    from kluis.rights.pdf import export_pdf

    return export_pdf(_export_of(ref, actor))


@attachment_generator(EXPORT_FILES)
def _export_files(ref: Mapping[str, Any], actor: Actor) -> bytes:
    from kluis.rights.export import export_files_archive

    return export_files_archive(_export_of(ref, actor))


def _queue(
    request: RightsRequest,
    template: str,
    to: str,
    key: str,
    attachments: list[AttachmentRef],
    stage: str | None = None,
    last: bool = False,
    limit_id: int | None = None,
) -> OutboxMessage:
    context: dict[str, str | int] = {"request_id": str(request.pk)}
    if stage is not None:
        context["stage"] = stage
    if limit_id is not None:
        context["limit_id"] = limit_id
    return mail_queue(
        template=template,
        # The last mail to an erased person: sealed under a key of its own, which the
        # worker shreds once the mail is sent.
        to_subject=uuid.uuid4() if last else request.pk,
        recipient_email=to,
        language=request.language,
        context=context,
        dedupe_key=f"rights:{request.pk}:{key}",
        attachments=attachments,
        shred_after_send=last,
    )


def mail_confirm(*, request: RightsRequest, to: str) -> OutboxMessage:
    return _queue(request, CONFIRM, to, f"confirm:{request.link_nonce}", [])


def mail_id_request(*, request: RightsRequest, to: str) -> OutboxMessage:
    return _queue(request, ID_REQUEST, to, f"id:{request.link_nonce}", [])


def mail_extended(*, request: RightsRequest, to: str) -> OutboxMessage:
    return _queue(request, EXTENDED, to, "extended", [])


def mail_answer(
    *, request: RightsRequest, to: str, with_export: bool, stage: str = "final", last: bool = False
) -> OutboxMessage:
    """One mail per answer: the held answer of an erasure and its final answer both go.

    `stage` names the answer ("held", "final"); `last` when the person is erased and
    this address is the last copy we have.
    """
    attachments = []
    if with_export:
        from kluis.rights.export import holds_files

        ref = {"request_id": str(request.pk)}
        attachments += [
            AttachmentRef("mijn-gegevens.json", "application/json", EXPORT_JSON, ref),
            AttachmentRef("mijn-gegevens.pdf", "application/pdf", EXPORT_PDF, ref),
        ]
        # The JSON names a file (a KvK extract, an attachment) by its path: the files
        # go with it, in a zip by those paths.
        if request.subject is not None and holds_files(request.subject):
            attachments.append(AttachmentRef(FILES_NAME, "application/zip", EXPORT_FILES, ref))
    return _queue(request, ANSWER, to, f"answer:{stage}", attachments, stage=stage, last=last)


def mail_restriction_end(*, request: RightsRequest, to: str, limit_id: int) -> OutboxMessage:
    """Art. 18(3) GDPR: the person is told before their restriction is lifted, and on
    which day; once per limit."""
    return _queue(
        request, RESTRICTION_END, to, f"restriction_end:{limit_id}", [], limit_id=limit_id
    )
