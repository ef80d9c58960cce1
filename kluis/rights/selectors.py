"""Reads of the rights app, each scoped to the person or role it serves."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kluis.accounts.models import Customer
from kluis.formats import long_date
from kluis.policy.cases import Case
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.rights.erasure import category_outcome, describe_outcome, erasure_blockers
from kluis.rights.limits import restricted_purposes, restriction_notice_days
from kluis.rights.models import Erasure, FollowUp, PoliceRequest, ProcessingLimit, RightsRequest
from kluis.vault.errors import KeyShredded, RevealRefused
from kluis.vault.fields import SealedValue

PURPOSE = "data_subject_rights"
# The fields of a customer record a person may correct themselves (the login address
# has its own confirmed change in the account settings).
RECTIFIABLE = (
    "name",
    "company_name",
    "address_street",
    "address_postcode",
    "address_city",
    "phone",
)


def requests_of(customer: Customer) -> list[RightsRequest]:
    return list(RightsRequest.objects.for_subject(customer.pk).order_by("-received_at"))


def request_of(customer: Customer, request_id: uuid.UUID) -> RightsRequest | None:
    return RightsRequest.objects.for_subject(customer.pk).filter(pk=request_id).first()


def request_for_officer(request_id: uuid.UUID) -> RightsRequest | None:
    return RightsRequest.objects.filter(pk=request_id).first()


def officer_queue() -> list[RightsRequest]:
    """Open requests, overdue first, then by deadline."""
    today = timezone.localdate()
    open_requests = list(RightsRequest.objects.open())
    return sorted(open_requests, key=lambda r: (not r.is_overdue(today), r.deadline))


ARCHIVE_PAGE = 50


def officer_archive(page: int = 1) -> list[RightsRequest]:
    """Handled requests, the most recently closed first, a page at a time."""
    start = (max(page, 1) - 1) * ARCHIVE_PAGE
    return list(
        RightsRequest.objects.filter(
            status__in=[RightsRequest.Status.DONE, RightsRequest.Status.REFUSED]
        ).order_by("-closed_at", "-received_at")[start : start + ARCHIVE_PAGE + 1]
    )


def unconfirmed_count() -> int:
    return RightsRequest.objects.filter(status=RightsRequest.Status.UNCONFIRMED).count()


def follow_ups_open() -> list[FollowUp]:
    return list(FollowUp.objects.filter(done_at__isnull=True))


def follow_up(follow_up_id: int) -> FollowUp | None:
    return FollowUp.objects.filter(pk=follow_up_id).first()


def erasure_preview(customer: Customer) -> dict[str, Any]:
    """What an erasure would do now: the same lines the answer will carry."""
    language = translation.get_language() or "nl"
    blockers = erasure_blockers(customer.pk)
    outcome = {"items": category_outcome(customer.pk)}
    return {"lines": describe_outcome(outcome, language), "blockers": _blockers(blockers, language)}


def _blockers(blockers: list[Any], language: str) -> list[dict[str, str]]:
    en = language.startswith("en")
    return [
        {
            "key": b["key"] if isinstance(b, dict) else b.key,
            "reason": (b["reason_en"] if en else b["reason_nl"])
            if isinstance(b, dict)
            else (b.reason_en if en else b.reason_nl),
            "next": (b["next_en"] if en else b["next_nl"])
            if isinstance(b, dict)
            else (b.next_en if en else b.next_nl),
        }
        for b in blockers
    ]


def answer_lines(request: RightsRequest, stage: str | None = None) -> dict[str, Any]:
    """The answer to a request, in the current language, from its stored outcome.

    `stage` "held" is the erasure's first answer (why we wait), kept in the outcome
    under "held" after the erasure is done, so a late delivery still says what it said.
    """
    outcome = request.outcome or {}
    if stage == "held" and outcome.get("held"):
        outcome = {"kind": outcome.get("kind"), "blockers": outcome["held"]}
    language = translation.get_language() or request.language
    text: list[str] = []
    if outcome.get("refused") == "identity_not_established":
        text.append(
            _(
                "We konden niet vaststellen dat het verzoek van jou komt. Daarom hebben we "
                "het niet uitgevoerd. Je kunt het opnieuw indienen via je account."
            )
        )
    elif outcome.get("not_found"):
        text.append(_("We hebben geen persoonsgegevens gevonden die bij dit e-mailadres horen."))
    elif outcome.get("already_erased"):
        text.append(
            _(
                "Je gegevens zijn al eerder gewist, op %(date)s. Er is niets meer te wissen; "
                "wat we nog bewaren en waarom staat hieronder."
            )
            % {"date": long_date(outcome["already_erased"])}
        )
    elif outcome.get("blockers"):
        text.append(
            _(
                "We kunnen je gegevens nog niet wissen, omdat er nog iets loopt. Zodra dat "
                "is afgerond, wissen we ze alsnog; je hoeft niets opnieuw te vragen."
            )
        )
        text.append(
            _(
                "De grond daarvoor: zolang dit loopt, zijn je gegevens nog nodig voor de "
                "overeenkomst met je (art. 17 lid 1 sub a AVG) of om een vordering in te "
                "stellen of te verdedigen (art. 17 lid 3 sub e AVG)."
            )
        )
    elif outcome.get("restricted"):
        text.append(
            _(
                "We hebben de verwerking van je gegevens beperkt. We bewaren ze, en gebruiken "
                "ze alleen nog voor: %(purposes)s. Eindigt de beperking, dan laten we je "
                "dat %(days)s dagen van tevoren weten."
            )
            % {
                "purposes": ", ".join(_purpose_labels(restricted_purposes(), language)),
                "days": restriction_notice_days(),
            }
        )
    elif outcome.get("objection_upheld"):
        text.append(
            _("We hebben je bezwaar toegewezen. We gebruiken je gegevens niet meer voor: %(p)s.")
            % {"p": ", ".join(_purpose_labels(outcome["objection_upheld"], language))}
        )
    elif request.kind in (RightsRequest.Kind.ACCESS, RightsRequest.Kind.PORTABILITY):
        text.append(
            _("Je gegevens staan in de bijlagen (PDF en JSON) of zijn te downloaden in je account.")
        )
        from kluis.rights.export import holds_files

        if request.subject is not None and holds_files(request.subject):
            text.append(
                _(
                    "De documenten die je ons gaf, zoals een uittreksel van de KvK, zitten als "
                    "bestanden in de bijlage %(name)s. De JSON noemt ze bij hun naam."
                )
                % {"name": "mijn-gegevens-bestanden.zip"}
            )
    elif request.kind == RightsRequest.Kind.ERASURE:
        text.append(
            _(
                "We hebben je gegevens gewist, behalve wat de wet ons verplicht te bewaren. "
                "Per soort gegevens:"
            )
        )
    # The officer's own words go with every answer, whatever else it says.
    if outcome.get("note"):
        text.append(str(outcome["note"]))
    return {
        "text": text,
        "lines": describe_outcome(outcome, language),
        "blockers": _blockers(outcome.get("blockers", []), language),
        "account_deleted": bool(outcome.get("account_deleted")),
        "remedies": remedies(),
    }


def remedies() -> list[str]:
    """What a person can do if they disagree (art. 12(4), 77 and 79 GDPR)."""
    authority = current_policy().controller.supervisory_authority
    return [
        _(
            "Ben je het niet eens met dit antwoord of met hoe we met je gegevens omgaan? Je "
            "kunt een klacht indienen bij de %(authority)s (%(url)s)."
        )
        % {"authority": authority.name, "url": authority.url},
        _(
            "Je kunt ook naar de rechter stappen (art. 79 AVG), zonder eerst een klacht in te "
            "dienen."
        ),
    ]


def _purpose_labels(keys: list[str], language: str) -> list[str]:
    policy = current_policy()
    return [policy.purposes[k].label.get(language) if k in policy.purposes else k for k in keys]


def is_erased(subject: uuid.UUID) -> bool:
    return Erasure.objects.filter(subject=subject).exists()


def police_requests() -> list[PoliceRequest]:
    return list(PoliceRequest.objects.select_related("withholding")[:200])


def police_request(police_id: int) -> PoliceRequest | None:
    return PoliceRequest.objects.select_related("withholding").filter(pk=police_id).first()


def customer_by_number(number: str) -> Customer | None:
    return Customer.objects.filter(number=number.strip()).first() if number.strip() else None


def customer_of(request: RightsRequest) -> Customer | None:
    return Customer.objects.filter(pk=request.subject).first() if request.subject else None


def category_labels(keys: list[str]) -> list[str]:
    policy = current_policy()
    language = translation.get_language() or "nl"
    return [policy.categories[k].label.get(language) if k in policy.categories else k for k in keys]


def current_values(customer: Customer, actor: Actor) -> dict[str, str]:
    """The customer's correctable fields, opened for the person themself."""
    values: dict[str, str] = {}
    for name in RECTIFIABLE:
        sealed = getattr(customer, name)
        if isinstance(sealed, SealedValue):
            try:
                values[name] = sealed.reveal(purpose=PURPOSE, actor=actor)
            except KeyShredded:
                values[name] = ""
    return values


def requester(request: RightsRequest, actor: Actor) -> dict[str, str]:
    """What the requester typed, opened for the privacy officer (audited).

    The request is the case; once it is closed, what they typed stays sealed.
    """
    shown: dict[str, str] = {}
    case = Case("rights_request", str(request.pk))
    for name in ("requester_name", "requester_email"):
        sealed = getattr(request, name)
        if isinstance(sealed, SealedValue):
            try:
                shown[name] = sealed.reveal(purpose=PURPOSE, actor=actor, case=case)
            except (KeyShredded, RevealRefused):
                shown[name] = ""
    return shown


def limit(limit_id: int) -> ProcessingLimit | None:
    return ProcessingLimit.objects.filter(pk=limit_id).first()


def limits_of_request(request: RightsRequest) -> list[ProcessingLimit]:
    return list(ProcessingLimit.objects.filter(request=request, ended_at__isnull=True))


def limits_shown(subject: uuid.UUID) -> list[str]:
    """A restriction or an upheld objection that holds, in words, for "Mijn gegevens"."""
    language = translation.get_language() or "nl"
    shown = []
    for held in ProcessingLimit.objects.filter(subject=subject, ended_at__isnull=True):
        since = long_date(held.started_at)
        if held.kind == ProcessingLimit.Kind.RESTRICTION:
            shown.append(
                _(
                    "Sinds %(date)s is de verwerking van je gegevens beperkt: we bewaren ze, en "
                    "gebruiken ze alleen nog voor: %(purposes)s."
                )
                % {
                    "date": since,
                    "purposes": ", ".join(_purpose_labels(restricted_purposes(), language)),
                }
            )
        else:
            shown.append(
                _("Sinds %(date)s gebruiken we je gegevens na je bezwaar niet meer voor: %(p)s.")
                % {"date": since, "p": ", ".join(_purpose_labels(held.purposes, language))}
            )
    return shown
