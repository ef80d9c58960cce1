"""Every write of the rights app: intake, verification, answers, erasure, rectification,
police/justice requests.

Services take clean input (forms validated it), write their audit entry and queue
their mail in the same transaction, and raise RightsError when a rule refuses.
Audit data holds ids, kinds and category keys: never a name, an address or a value.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kluis import uploads
from kluis.accounts import throttle, validators
from kluis.accounts.models import Contact, Customer, User
from kluis.audit.chain import audit_append
from kluis.audit.models import Disclosure, Withholding
from kluis.audit.withholding import withheld
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.policy.schema import Duration
from kluis.rights import emails, limits, links, selectors
from kluis.rights.erasure import category_outcome, erasure_blockers, key_plan
from kluis.rights.linked import linked_subjects
from kluis.rights.models import Erasure, FollowUp, IdCopy, ProcessingLimit, RightsRequest
from kluis.vault import keys
from kluis.vault.errors import KeyShredded
from kluis.vault.fields import BlindIndexField, SealedValue, sealed_fields
from kluis.vault.holdings import sealed_holdings

PURPOSE = "data_subject_rights"
VERIFY_PURPOSE = "identity_verification"
SYSTEM = Actor.system("rights")
ONE_MONTH = Duration(months=1)
PUBLIC_FORM = throttle.Rule(
    "rights-request-address", 10, dt.timedelta(hours=1), dt.timedelta(hours=1)
)
# The fields of a customer record a person may correct themselves (the login address
# has its own confirmed change in the account settings).
RECTIFIABLE = selectors.RECTIFIABLE


class RightsError(Exception):
    """A rule of the rights app refused; `code` says which, for a clear answer."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


def due_date(received_at: dt.datetime) -> dt.date:
    """One calendar month after receipt (art. 12(3) GDPR)."""
    return ONE_MONTH.after(timezone.localdate(received_at))


def _audit(action: str, actor: Actor | str, request: RightsRequest, **data: Any) -> None:
    audit_append(
        action=f"rights.{action}",
        actor=actor if isinstance(actor, str) else actor.ref,
        subject=request.subject,
        data={"request": str(request.pk), "kind": request.kind, **data},
    )


def _reveal(value: SealedValue | None, purpose: str = PURPOSE) -> str:
    return value.reveal(purpose=purpose, actor=SYSTEM) if value is not None else ""


def customer_address(subject: uuid.UUID | None) -> str:
    """The address on file of a customer, for mail to them; "" if none is readable."""
    customer = Customer.objects.filter(pk=subject).first() if subject else None
    if customer is None or customer.email is None:
        return ""
    try:
        return _reveal(customer.email)
    except KeyShredded:  # an erased customer: their address is gone
        return ""


def _answer_address(request: RightsRequest) -> str:
    return customer_address(request.subject) or _reveal(request.requester_email)


def _send_answer(
    request: RightsRequest,
    to: str,
    *,
    with_export: bool,
    stage: str = "final",
    last: bool = False,
) -> None:
    """Mail the answer, when there is an address to mail it to.

    Without one (a staff-registered letter without email) the officer sends the
    answer shown on the request page by post; the outcome is recorded either way.
    """
    if to:
        emails.mail_answer(request=request, to=to, with_export=with_export, stage=stage, last=last)


def _new_request(**fields: Any) -> RightsRequest:
    request = RightsRequest(**fields)
    request.due_on = due_date(request.received_at)
    return request


# --- intake -----------------------------------------------------------------------------


@transaction.atomic
def request_from_portal(*, user: User, kind: str) -> RightsRequest:
    """A request by a logged-in customer: verified by the account itself."""
    assert user.customer_id is not None
    customer = user.customer
    assert customer is not None
    if kind == RightsRequest.Kind.ERASURE:
        raise RightsError("use_erasure_page")
    request = _new_request(
        kind=kind,
        channel=RightsRequest.Channel.PORTAL,
        subject=customer.pk,
        language=customer.language,
        verification=RightsRequest.Verification.ACCOUNT,
        verification_decided_at=timezone.now(),
    )
    request.save()
    _audit("request_received", user.actor(), request, channel=request.channel)
    if kind in (RightsRequest.Kind.ACCESS, RightsRequest.Kind.PORTABILITY):
        request_close(request=request, by=user.actor(), outcome={"kind": kind})
    return request


def request_from_public(
    *, name: str, email: str, kind: str, language: str, client_address: str
) -> RightsRequest | None:
    """A request from the public form, to be confirmed from the address given.

    The caller shows the same page whatever happens, so the form tells nobody
    whether an address is a customer's; None when the sender is throttled.
    """
    checked = validators.clean_person_fields({"requester_name": name, "requester_email": email})
    name, email = checked["requester_name"], checked["requester_email"]
    rate = [throttle.key_for(PUBLIC_FORM, client_address)]
    if throttle.blocked_seconds(rate):
        return None
    throttle.throttle_fail(keys=rate)
    with transaction.atomic():
        request = _new_request(
            kind=kind,
            channel=RightsRequest.Channel.PUBLIC,
            status=RightsRequest.Status.UNCONFIRMED,
            language=language,
        )
        request.requester_name = name
        request.requester_email = email
        links.new_nonce(request, links.CONFIRM)
        request.save()
        _audit(
            "request_received",
            f"client:{throttle.client_ref(client_address)}",
            request,
            channel=request.channel,
        )
        emails.mail_confirm(request=request, to=email)
    return request


@transaction.atomic
def request_register(
    *,
    name: str,
    email: str,
    kind: str,
    received_on: dt.date,
    customer: Customer | None,
    by: User,
) -> RightsRequest:
    """A request that came by email or letter, registered by staff.

    The confirmation link goes to the address on file when the customer is known,
    otherwise to the address the request came from.
    """
    checked = validators.clean_person_fields({"requester_name": name, "requester_email": email})
    name, email = checked["requester_name"], checked["requester_email"]
    received_at = timezone.make_aware(dt.datetime.combine(received_on, dt.time(12)))
    request = _new_request(
        kind=kind,
        channel=RightsRequest.Channel.STAFF,
        status=RightsRequest.Status.UNCONFIRMED,
        received_at=received_at,
        subject=customer.pk if customer else None,
        language=customer.language if customer else "nl",
        registered_by=by.actor().ref,
    )
    if name:
        request.requester_name = name
    request.requester_email = email
    links.new_nonce(request, links.CONFIRM)
    request.save()
    _audit("request_received", by.actor(), request, channel=request.channel)
    emails.mail_confirm(request=request, to=customer_address(request.subject) or email)
    return request


@transaction.atomic
def request_confirm(*, request: RightsRequest) -> RightsRequest:
    """The requester followed the link: the address is theirs. Single use."""
    if request.subject is None:
        email = _reveal(request.requester_email, VERIFY_PURPOSE)
        index = User._meta.get_field("email_index")
        assert isinstance(index, BlindIndexField)
        digest = index.lookup_value(email)
        customer = Customer.objects.filter(email_index=digest).first()
        if customer is None:
            user = User.objects.filter(email_index=digest, customer__isnull=False).first()
            customer = user.customer if user else None
        request.subject = customer.pk if customer else None
        if customer is None:
            # A contact person of a business customer is a data subject of their own:
            # their record (and what is held under their address) is theirs to ask for.
            contact = Contact.objects.filter(email_index=digest).first()
            request.subject = contact.pk if contact else None
    request.verification = (
        RightsRequest.Verification.EMAIL
        if request.subject
        else RightsRequest.Verification.NOT_FOUND
    )
    request.verification_decided_at = timezone.now()
    request.status = RightsRequest.Status.OPEN
    request.link_nonce = ""
    request.link_expires_at = None
    request.save()
    _audit("request_confirmed", SYSTEM, request, verification=request.verification)
    return request


@transaction.atomic
def request_extend(*, request: RightsRequest, months: int, reason: str, by: User) -> None:
    """Extend by up to two months (art. 12(3)): with a reason, told within the first month."""
    if not request.is_open:
        raise RightsError("closed")
    if request.extended_to is not None:
        raise RightsError("already_extended")
    if not 1 <= months <= 2:
        raise RightsError("extension_too_long")
    if timezone.localdate() > request.due_on:
        raise RightsError("first_month_over")
    request.extended_to = Duration(months=months).after(request.due_on)
    request.extension_reason = reason
    request.extension_notified_at = timezone.now()
    request.save()
    _audit(
        "request_extended",
        by.actor(),
        request,
        months=months,
        extended_to=request.extended_to.isoformat(),
    )
    emails.mail_extended(request=request, to=_answer_address(request))


# --- verification by ID copy --------------------------------------------------------------


@transaction.atomic
def verification_ask_id_copy(*, request: RightsRequest, by: User) -> None:
    """Only when the privacy officer decides account and email are not enough (R37)."""
    if not request.is_open:
        raise RightsError("closed")
    request.status = RightsRequest.Status.AWAITING_ID
    links.new_nonce(request, links.UPLOAD)
    request.save()
    _audit("id_copy_asked", by.actor(), request)
    emails.mail_id_request(
        request=request,
        to=_reveal(request.requester_email, VERIFY_PURPOSE) or customer_address(request.subject),
    )


@transaction.atomic
def id_copy_store(*, request: RightsRequest, content: bytes) -> IdCopy:
    """Clean and seal a masked copy (the form asked for the masking boxes).

    The upload module checks and cleans it here as well as in the form, so no caller
    stores a file it did not check; a refused file raises UploadRefused.
    """
    clean = uploads.clean_upload(content, accept=uploads.DOCUMENTS, pdf_needs_image=True)
    content, mimetype = clean.content, clean.mimetype
    IdCopy.objects.filter(request=request).delete()
    copy = IdCopy(request=request, mimetype=mimetype, size=len(content), masked_confirmed=True)
    copy.content = base64.b64encode(content).decode()
    copy.save()
    request.link_nonce = ""
    request.link_expires_at = None
    request.save(update_fields=["link_nonce", "link_expires_at"])
    _audit("id_copy_received", SYSTEM, request, mimetype=mimetype, size=len(content))
    return copy


def id_copy_open(*, request: RightsRequest, by: User) -> tuple[bytes, str] | None:
    copy = IdCopy.objects.filter(request=request).first()
    if copy is None or copy.content is None:
        return None
    plain = copy.content.reveal(purpose=VERIFY_PURPOSE, actor=by.actor())
    return base64.b64decode(plain), copy.mimetype


@transaction.atomic
def verification_decide(
    *, request: RightsRequest, verified: bool, customer: Customer | None, by: User
) -> None:
    """Decide on identity; the ID copy is destroyed now: row deleted, key shredded."""
    if request.status != RightsRequest.Status.AWAITING_ID:
        raise RightsError("not_awaiting_id")
    request.verification_decided_at = timezone.now()
    if verified:
        request.verification = RightsRequest.Verification.ID_COPY
        request.status = RightsRequest.Status.OPEN
        if customer is not None:
            request.subject = customer.pk
    else:
        request.status = RightsRequest.Status.REFUSED
        request.closed_at = timezone.now()
        request.outcome = {"kind": request.kind, "refused": "identity_not_established"}
    request.save()
    _audit("verification_decided", by.actor(), request, verified=verified)
    id_copy_destroy(request=request, by=by.actor())
    if not verified:
        _send_answer(request, _answer_address(request), with_export=False)


def id_copy_destroy(*, request: RightsRequest, by: Actor) -> bool:
    with transaction.atomic():
        deleted, _ = IdCopy.objects.filter(request=request).delete()
        shredded = keys.shred([keys.KeyScope(request.pk, "id_verification")])
        _audit("id_copy_destroyed", by, request, rows=deleted, keys=shredded)
    return bool(deleted or shredded)


# --- answers ------------------------------------------------------------------------------


@transaction.atomic
def request_close(
    *, request: RightsRequest, by: Actor, outcome: dict[str, Any], status: str = "done"
) -> None:
    request.status = status
    request.closed_at = timezone.now()
    request.outcome = outcome
    request.save()
    _audit("request_closed", by, request, status=status)


@transaction.atomic
def request_respond(
    *, request: RightsRequest, by: User, note: str = "", purposes: list[str] | None = None
) -> RightsRequest:
    """One click: make and send the answer this request needs.

    A restriction request, answered, takes effect at once; an objection takes effect
    for the `purposes` the officer upholds it for (none: it is refused).
    """
    if not request.is_open:
        raise RightsError("closed")
    if request.status == RightsRequest.Status.AWAITING_ID:
        raise RightsError("not_verified")
    actor = by.actor()
    if request.verification == RightsRequest.Verification.NOT_FOUND:
        request_close(request=request, by=actor, outcome={"kind": request.kind, "not_found": True})
        _send_answer(request, _answer_address(request), with_export=False)
        return request
    if not request.is_verified or request.subject is None:
        raise RightsError("not_verified")
    if request.kind == RightsRequest.Kind.ERASURE:
        erasure_execute(request=request, by=actor)
        return request
    export = request.kind in (RightsRequest.Kind.ACCESS, RightsRequest.Kind.PORTABILITY)
    to = _answer_address(request)
    outcome: dict[str, Any] = {"kind": request.kind, "note": note}
    if request.kind == RightsRequest.Kind.RESTRICTION:
        limits.restriction_start(request=request, by=actor.ref)
        outcome["restricted"] = True
    elif request.kind == RightsRequest.Kind.OBJECTION and purposes:
        try:
            limits.objection_uphold(request=request, purposes=purposes, by=actor.ref)
        except limits.LimitError as exc:
            raise RightsError(exc.code) from None
        outcome["objection_upheld"] = sorted(purposes)
    request_close(request=request, by=actor, outcome=outcome)
    _send_answer(
        request,
        to,
        with_export=export and request.channel != RightsRequest.Channel.PORTAL,
    )
    return request


# --- erasure --------------------------------------------------------------------------------


@transaction.atomic
def erasure_request_from_portal(*, user: User) -> RightsRequest:
    """A logged-in customer asks for erasure; it is carried out at once."""
    customer = user.customer
    assert customer is not None
    request = _new_request(
        kind=RightsRequest.Kind.ERASURE,
        channel=RightsRequest.Channel.PORTAL,
        subject=customer.pk,
        language=customer.language,
        verification=RightsRequest.Verification.ACCOUNT,
        verification_decided_at=timezone.now(),
    )
    request.save()
    _audit("request_received", user.actor(), request, channel=request.channel)
    erasure_execute(request=request, by=user.actor())
    return request


@transaction.atomic
def erasure_execute(*, request: RightsRequest, by: Actor) -> dict[str, Any]:
    """Erase the request's subject: shred every key without a legal duty, delete the
    account, keep the fiscal keys; the outcome names what was kept, until when, why.
    """
    subject = request.subject
    assert subject is not None
    earlier = Erasure.objects.filter(subject=subject).first()
    if earlier is not None:
        outcome = {
            "kind": "erasure",
            "already_erased": earlier.erased_at.date().isoformat(),
            "items": earlier.outcome.get("items", []),
        }
        request_close(request=request, by=by, outcome=outcome, status="refused")
        _send_answer(request, _answer_address(request), with_export=False)
        return outcome
    blockers = erasure_blockers(subject)
    to = _answer_address(request)
    if blockers:
        request.status = RightsRequest.Status.WAITING
        held = [b.as_dict() for b in blockers]
        request.outcome = {"kind": "erasure", "blockers": held, "held": held}
        request.save()
        _audit("erasure_held", by, request, blockers=[b.key for b in blockers])
        _send_answer(request, to, with_export=False, stage="held")
        return dict(request.outcome)
    items = category_outcome(subject)
    request_ids = list(RightsRequest.objects.filter(subject=subject).values_list("pk", flat=True))
    # Questions and other records held under the person's address go too; not those
    # under the addresses of an organisation's contact people, who are persons of
    # their own (their records at this organisation go with it, below).
    linked = linked_subjects(subject, contacts=False)
    # Contact-person rows: an organisation's own contacts, and the person's own record
    # at any organisation (the person is that contact, or it carries their address).
    # The rows go; the organisation and its other contacts stay as they are.
    contacts = list(
        Contact.objects.filter(Q(customer_id=subject) | Q(pk__in=[subject, *linked])).values_list(
            "pk", flat=True
        )
    )
    plans = key_plan(list(dict.fromkeys([subject, *contacts, *linked])))
    erase = [keys.KeyScope(p.subject, p.retention_class, p.period) for p in plans if p.erase]
    # What the requester typed with their requests goes too: its class has no legal duty.
    erase += [keys.KeyScope(r, "rights_request") for r in request_ids]
    for owner in (subject, *linked):
        _tombstone_indexes(owner)
    users = User.objects.filter(customer_id=subject).delete()[1].get("accounts.User", 0)
    Contact.objects.filter(pk__in=contacts).delete()
    outcome = {"kind": "erasure", "items": items, "account_deleted": bool(users)}
    if (request.outcome or {}).get("held"):
        # The earlier answer said why we waited; it is still read from here.
        outcome["held"] = request.outcome["held"]
    Erasure.objects.create(subject=subject, request=request, outcome=outcome)
    request_close(request=request, by=by, outcome=outcome)
    _audit(
        "erasure_done",
        by,
        request,
        shredded=sorted({s.retention_class for s in erase}),
        kept=sorted({f"{p.retention_class}:{p.period}" for p in plans if not p.erase}),
        accounts_deleted=users,
    )
    # To the address we had; it is sealed under a key of this mail alone, which the
    # mail worker shreds once the mail is sent.
    _send_answer(request, to, with_export=False, last=True)
    # Last, so that any failure above rolls everything back before a key is gone.
    keys.shred(erase)
    return outcome


def _tombstone_indexes(subject: uuid.UUID) -> None:
    """Blind indexes would still link a shredded row to an address: clear them."""
    policy = current_policy()
    for holding in sealed_holdings(subject):
        field = holding.field
        if field.blind_index is None or policy.retention[field.retention_class()].legal_duty:
            continue
        type(holding.row)._default_manager.filter(pk=holding.row.pk).update(
            **{field.blind_index.attname: None}
        )


# --- rectification ---------------------------------------------------------------------------


@transaction.atomic
def rectify(
    *,
    customer: Customer,
    changes: dict[str, str],
    by: Actor,
    request: RightsRequest | None = None,
) -> list[FollowUp]:
    """Correct a customer's record; note each recipient that had the old data (art. 19).

    The values pass the same validators as every form (ValidationError otherwise).
    """
    fields = {f.name: f for f in sealed_fields(Customer) if f.name in RECTIFIABLE}
    changed: list[str] = []
    if set(changes) - set(fields):
        raise RightsError("not_rectifiable")
    changes = validators.clean_person_fields(changes, country=customer.country)
    for name, value in changes.items():
        setattr(customer, name, value or None)
        changed.append(name)
    if not changed:
        return []
    customer.save()
    categories = sorted({fields[n].category for n in changed})
    audit_append(
        action="rights.rectified",
        actor=by.ref,
        subject=customer.pk,
        data={
            "fields": sorted(changed),
            "categories": categories,
            "request": str(request.pk) if request else None,
        },
    )
    follow_ups = []
    # Per recipient and per matter the person may not be told of (a withholding), so
    # that a follow-up of a confidential disclosure stays as confidential as it.
    received: dict[tuple[str, int], set[str]] = {}
    withholdings: dict[int, Withholding] = {}
    for d in Disclosure.objects.filter(subject=customer.pk).select_related("withholding"):
        hit = set(d.categories) & set(categories)
        if hit:
            received.setdefault((d.recipient, d.withholding_id or 0), set()).update(hit)
            if d.withholding is not None:
                withholdings[d.withholding.pk] = d.withholding
    for (recipient, withholding), cats in sorted(received.items()):
        follow_ups.append(
            FollowUp.objects.create(
                subject=customer.pk, recipient=recipient, categories=sorted(cats), request=request
            )
        )
        with withheld(withholdings.get(withholding)):
            audit_append(
                action="rights.follow_up_noted",
                actor=by.ref,
                subject=customer.pk,
                data={"recipient": recipient, "categories": sorted(cats)},
            )
    return follow_ups


@transaction.atomic
def follow_up_done(*, follow_up: FollowUp, by: User) -> None:
    if follow_up.done_at is not None:
        return
    follow_up.done_at = timezone.now()
    follow_up.save(update_fields=["done_at"])
    audit_append(
        action="rights.follow_up_done",
        actor=by.actor().ref,
        subject=follow_up.subject,
        data={"recipient": follow_up.recipient, "categories": follow_up.categories},
    )


@transaction.atomic
def processing_limit_end(
    *, limit: ProcessingLimit, by: User, ends_on: dt.date | None = None
) -> dt.date | None:
    """End an upheld objection now; announce the end of a restriction.

    A restriction is lifted only after the person was told (art. 18(3) GDPR): this
    sets its last day, at least the policy's notice days ahead; the worker mails the
    notice that many days before it and lifts it on the day. Returns that day.
    """
    try:
        if limit.kind == ProcessingLimit.Kind.RESTRICTION:
            return limits.restriction_end_announce(limit=limit, by=by.actor().ref, ends_on=ends_on)
        limits.limit_end(limit=limit, by=by.actor().ref)
    except limits.LimitError as exc:
        raise RightsError(exc.code) from None
    return None


def restriction_end_notify(limit: ProcessingLimit) -> bool:
    """Queue the notice that a restriction ends (the worker, kluis.rights.jobs)."""
    if limit.request is None:
        return False
    to = _answer_address(limit.request)
    if not to:
        return False
    emails.mail_restriction_end(request=limit.request, to=to, limit_id=limit.pk)
    return True
