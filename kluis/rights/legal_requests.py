"""Police and justice requests (R9, R30): a register with four eyes and a ledger entry.

A request names its authority, its legal basis and the order's reference, and the
person and categories it asks for. A second privacy officer approves it, possibly for
fewer categories; the answer then holds only the approved categories and is recorded
in the disclosure ledger (recipient police_justice, purpose legal_requests, the order
as reference). Whether the person may be told is recorded with it: when they may
not, the request is a withholding (kluis.audit.withholding) and every audit entry,
staff reveal and disclosure it causes is left out of what the person sees — "my data",
the access export and its mail — until the date the order names or until a privacy
officer ends it. The officer's pages and the register's counts always show it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_append
from kluis.audit.disclosures import disclosure_record
from kluis.audit.withholding import withheld, withholding_lift, withholding_start
from kluis.policy.cases import Case
from kluis.policy.loader import current_policy
from kluis.rights.export import file_entry, zip_of
from kluis.rights.models import PoliceRequest
from kluis.rights.services import RightsError
from kluis.vault.fields import SealedFileField, SealedModel
from kluis.vault.holdings import Holding, sealed_holdings
from kluis.vault.reveal import reveal_many

LEGAL_PURPOSE = "legal_requests"


@transaction.atomic
def police_register(
    *,
    customer: Customer,
    authority: str,
    legal_basis: str,
    order_reference: str,
    categories: list[str],
    may_inform_subject: bool,
    by: User,
    confidential_until: dt.date | None = None,
) -> PoliceRequest:
    allowed = set(current_policy().recipients["police_justice"].categories)
    if not categories or set(categories) - allowed:
        raise RightsError("categories")
    if may_inform_subject and confidential_until is not None:
        raise RightsError("confidential_until")
    police = PoliceRequest.objects.create(
        authority=authority,
        legal_basis=legal_basis,
        order_reference=order_reference,
        subject=customer.pk,
        categories=sorted(categories),
        may_inform_subject=may_inform_subject,
        confidential_until=confidential_until,
        registered_by=by.actor().ref,
    )
    if not may_inform_subject:
        police.withholding = withholding_start(
            subject=customer.pk,
            reason="legal_request",
            reference=f"police:{police.pk}",
            until=confidential_until,
        )
        police.save(update_fields=["withholding"])
    with withheld(police.withholding):
        _registered(police, by)
    return police


def _registered(police: PoliceRequest, by: User) -> None:
    audit_append(
        action="rights.police_registered",
        actor=by.actor().ref,
        subject=police.subject,
        data={
            "police": police.pk,
            "categories": police.categories,
            "legal_basis": police.legal_basis,
            "reference": police.order_reference,
        },
    )


@transaction.atomic
def police_confidentiality_end(*, police: PoliceRequest, by: User) -> None:
    """A decision that the person may now be told: it all appears, with its own dates."""
    if police.withholding is None or police.withholding.lifted_at is not None:
        raise RightsError("not_confidential")
    withholding_lift(withholding=police.withholding, by=by.actor().ref)
    police.may_inform_subject = True
    police.save(update_fields=["may_inform_subject"])
    audit_append(
        action="rights.police_confidentiality_ended",
        actor=by.actor().ref,
        subject=police.subject,
        data={"police": police.pk},
    )


@transaction.atomic
def police_decide(
    *, police: PoliceRequest, approve: bool, categories: list[str], by: User
) -> PoliceRequest:
    """Four eyes: the privacy officer who decides is not the one who registered."""
    if police.status != PoliceRequest.Status.REGISTERED:
        raise RightsError("decided")
    if police.registered_by == by.actor().ref:
        raise RightsError("four_eyes")
    if approve and (not categories or set(categories) - set(police.categories)):
        raise RightsError("categories")
    with withheld(police.withholding):
        return _decide(police=police, approve=approve, categories=categories, by=by)


def _decide(
    *, police: PoliceRequest, approve: bool, categories: list[str], by: User
) -> PoliceRequest:
    police.status = PoliceRequest.Status.APPROVED if approve else PoliceRequest.Status.REFUSED
    police.approved_categories = sorted(categories) if approve else []
    police.decided_by = by.actor().ref
    police.decided_at = timezone.now()
    police.save()
    audit_append(
        action="rights.police_decided",
        actor=by.actor().ref,
        subject=police.subject,
        data={"police": police.pk, "approved": approve, "categories": police.approved_categories},
    )
    return police


@transaction.atomic
def police_answer(*, police: PoliceRequest, by: User) -> dict[str, Any]:
    """The answer, with only the approved categories; recorded as a disclosure."""
    if police.status != PoliceRequest.Status.APPROVED:
        raise RightsError("answered" if police.status == "answered" else "not_approved")
    with withheld(police.withholding):
        return _answer(police=police, by=by)


def _answer(*, police: PoliceRequest, by: User) -> dict[str, Any]:
    approved = set(police.approved_categories)
    holdings = [h for h in sealed_holdings(police.subject) if h.field.category in approved]
    by_model: dict[type[SealedModel], list[Holding]] = {}
    for h in holdings:
        by_model.setdefault(type(h.row), []).append(h)
    values: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    contents: dict[str, bytes] = {}
    for model, group in by_model.items():
        rows = list({id(h.row): h.row for h in group}.values())
        names = sorted({h.field.name for h in group})
        opened = reveal_many(
            rows,
            names,
            purpose=LEGAL_PURPOSE,
            actor=by.actor(),
            case=Case("police_request", str(police.pk)),
        )
        for row, plain in zip(rows, opened, strict=True):
            for h in group:
                if h.row is row and plain.get(h.field.name) is not None:
                    where = str(model._meta.verbose_name)
                    value = plain[h.field.name]
                    if isinstance(h.field, SealedFileField) and isinstance(value, str):
                        # A document is a file of its own in the answer's zip, as in
                        # the person's own copy; the value names its path.
                        value = file_entry(h, value, where, files, contents)
                    values.append(
                        {
                            "category": h.field.category,
                            "where": where,
                            "field": str(h.field.verbose_name),
                            "value": value,
                        }
                    )
    sent = sorted({v["category"] for v in values})
    disclosure = disclosure_record(
        subject=police.subject,
        recipient="police_justice",
        purpose=LEGAL_PURPOSE,
        categories=sent or sorted(approved),
        actor=by.actor(),
        reference=f"{police.legal_basis}; {police.order_reference}",
    )
    police.status = PoliceRequest.Status.ANSWERED
    police.answered_at = disclosure.at
    police.disclosure_seq = disclosure.audit_seq
    police.save()
    return {
        "authority": police.authority,
        "legal_basis": police.legal_basis,
        "order_reference": police.order_reference,
        "answered_at": police.answered_at.isoformat() if police.answered_at else None,
        "categories": sorted(approved),
        "values": values,
        "files": files,
        # Not part of the JSON: the files' bytes by their path (police_answer_download).
        "_file_contents": contents,
    }


def police_answer_download(answer: dict[str, Any], police_id: int) -> tuple[bytes, str, str]:
    """The answer as (content, content type, file name): the JSON alone, or, when the
    approved categories hold documents (a KvK extract, an ID copy, a help request's
    attachment), a zip of the JSON and each document as a file under its path."""
    name = f"vordering-{police_id}"
    shown = {key: value for key, value in answer.items() if not key.startswith("_")}
    document = json.dumps(shown, ensure_ascii=False, indent=2).encode()
    contents: dict[str, bytes] = answer.get("_file_contents", {})
    if not contents:
        return document, "application/json", f"{name}.json"
    return zip_of({f"{name}.json": document, **contents}), "application/zip", f"{name}.zip"
