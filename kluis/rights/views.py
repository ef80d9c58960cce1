"""Views of the rights app: portal, back office (privacy officer) and the public form."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from kluis import uploads
from kluis.accounts.decorators import customer_required, staff_required
from kluis.accounts.http import client_address, current_user
from kluis.accounts.models import Customer
from kluis.formats import long_date
from kluis.policy.cases import Case
from kluis.rights import forms, legal_requests, limits, links, selectors, services
from kluis.rights.export import build_export, export_archive, export_json
from kluis.rights.models import PoliceRequest, ProcessingLimit, RightsRequest
from kluis.rights.pdf import export_pdf
from kluis.vault.errors import RevealRefused

OFFICER = "privacy_officer"
ERRORS = {
    "closed": _l("Dit verzoek is al afgehandeld."),
    "already_extended": _l(
        "Dit verzoek is al verlengd; verlengen kan één keer, met ten hoogste twee maanden."
    ),
    "first_month_over": _l("De eerste maand is voorbij: verlengen had binnen die maand gemoeten."),
    "not_verified": _l("De identiteit van de verzoeker is nog niet vastgesteld."),
    "not_awaiting_id": _l("Er wordt geen kopie van een identiteitsbewijs verwacht."),
    "four_eyes": _l(
        "Een verzoek dat je zelf hebt geregistreerd, beoordeelt een andere privacyfunctionaris."
    ),
    "categories": _l("Kies alleen gegevens waar het verzoek om vraagt."),
    "decided": _l("Over dit verzoek is al besloten."),
    "not_approved": _l("Dit verzoek is niet goedgekeurd."),
    "answered": _l(
        "Dit verzoek is al beantwoord; een tweede verstrekking kan alleen op een nieuw verzoek."
    ),
    "not_confidential": _l("Deze vordering is niet (meer) geheim."),
    "objection_purposes": _l("Kies alleen doelen die op een gerechtvaardigd belang rusten."),
    "limit_ended": _l("Deze beperking of dit bezwaar geldt al niet meer."),
    "end_announced": _l("Het einde van deze beperking is al aangekondigd."),
    "end_too_soon": _l("Zo snel kan de beperking niet eindigen: de persoon hoort het eerst."),
    "not_a_restriction": _l("Dit is geen beperking."),
    "no_notice_days": _l("Het privacybeleid noemt geen termijn om het einde aan te kondigen."),
    "confidential_until": _l(
        "Een geheimhoudingsdatum past alleen bij een vordering die geheim is."
    ),
}


def _customer(request: HttpRequest) -> Customer:
    customer = current_user(request).customer
    assert customer is not None
    return customer


def _download(export: dict[str, object], fmt: str) -> HttpResponse:
    if fmt not in ("json", "pdf", "zip"):
        raise Http404
    if fmt == "json":
        body, kind, name = export_json(export), "application/json", "mijn-gegevens.json"
    elif fmt == "zip":
        body, kind, name = export_archive(export), "application/zip", "mijn-gegevens.zip"
    else:
        body, kind, name = export_pdf(export), "application/pdf", "mijn-gegevens.pdf"
    response = HttpResponse(body, content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


# --- the portal ------------------------------------------------------------------------------


@customer_required
def portal_requests(request: HttpRequest) -> HttpResponse:
    form = forms.PortalRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        made = services.request_from_portal(
            user=current_user(request), kind=form.cleaned_data["kind"]
        )
        messages.success(
            request, _("We hebben je verzoek ontvangen. Hieronder zie je hoe het ervoor staat.")
        )
        return redirect("rights_portal:request", request_id=made.pk)
    customer = _customer(request)
    return render(
        request,
        "rights/portal/requests.html",
        {"form": form, "requests": selectors.requests_of(customer)},
    )


@customer_required
def portal_request(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    rights_request = selectors.request_of(_customer(request), request_id)
    if rights_request is None:
        raise Http404
    return render(
        request,
        "rights/portal/request.html",
        {"r": rights_request, "answer": selectors.answer_lines(rights_request)},
    )


@customer_required
def portal_export(request: HttpRequest, request_id: uuid.UUID, fmt: str) -> HttpResponse:
    customer = _customer(request)
    rights_request = selectors.request_of(customer, request_id)
    if rights_request is None or rights_request.kind not in ("access", "portability"):
        raise Http404
    export = build_export(
        subject=customer.pk,
        actor=current_user(request).actor(),
        language=translation.get_language() or customer.language,
    )
    return _download(export, fmt)


@customer_required
def portal_erase(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    form = forms.EraseConfirmForm(request.POST if request.method == "POST" else None)
    if not form.is_valid():
        return render(
            request,
            "rights/portal/erase.html",
            {"preview": selectors.erasure_preview(customer), "form": form},
        )
    done = services.erasure_request_from_portal(user=current_user(request))
    if done.status == RightsRequest.Status.DONE:
        logout(request)  # the account is gone; show the answer once, here
    return render(
        request, "rights/portal/erased.html", {"r": done, "answer": selectors.answer_lines(done)}
    )


@customer_required
def portal_rectify(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    initial = selectors.current_values(customer, current_user(request).actor())
    form = forms.RectifyForm(request.POST or None, initial=initial, country=customer.country)
    if request.method == "POST" and form.is_valid():
        services.rectify(
            customer=customer, changes=form.changes(), by=current_user(request).actor()
        )
        messages.success(request, _("Je gegevens zijn aangepast."))
        return redirect("rights_portal:rectify")
    return render(request, "rights/portal/rectify.html", {"form": form})


# --- the back office ----------------------------------------------------------------------------


def _officer_request(request_id: uuid.UUID) -> RightsRequest:
    found = selectors.request_for_officer(request_id)
    if found is None:
        raise Http404
    return found


def _refused(request: HttpRequest, exc: services.RightsError) -> None:
    messages.error(request, str(ERRORS.get(exc.code, exc.code)))


@staff_required(OFFICER)
def queue(request: HttpRequest) -> HttpResponse:
    requests = list(selectors.officer_queue())
    # Who asked, without revealing anything: the customer number when the request is a
    # customer's (the name and address stay sealed until the request is opened).
    numbers = dict(
        Customer.objects.filter(pk__in={r.subject for r in requests if r.subject}).values_list(
            "pk", "number"
        )
    )
    rows = [(r, numbers.get(r.subject) if r.subject else None) for r in requests]
    return render(
        request,
        "rights/backoffice/queue.html",
        {
            "rows": rows,
            "requests": requests,
            "unconfirmed": selectors.unconfirmed_count(),
            "follow_ups": selectors.follow_ups_open(),
        },
    )


@staff_required(OFFICER)
def archive(request: HttpRequest) -> HttpResponse:
    """Handled requests stay findable: what, whose, when received and when closed."""
    try:
        page = max(int(request.GET.get("pagina", "1")), 1)
    except ValueError:
        page = 1
    found = selectors.officer_archive(page)
    more = len(found) > selectors.ARCHIVE_PAGE
    requests = found[: selectors.ARCHIVE_PAGE]
    numbers = dict(
        Customer.objects.filter(pk__in={r.subject for r in requests if r.subject}).values_list(
            "pk", "number"
        )
    )
    rows = [(r, numbers.get(r.subject) if r.subject else None) for r in requests]
    return render(
        request,
        "rights/backoffice/archive.html",
        {"rows": rows, "page": page, "more": more},
    )


@staff_required(OFFICER)
def register(request: HttpRequest) -> HttpResponse:
    form = forms.RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        made = services.request_register(
            name=data["name"],
            email=data["email"],
            kind=data["kind"],
            received_on=data["received_on"],
            customer=data["customer_number"],
            by=current_user(request),
        )
        messages.success(request, _("Het verzoek is vastgelegd."))
        return redirect("rights_backoffice:request", request_id=made.pk)
    return render(request, "rights/backoffice/register.html", {"form": form})


@staff_required(OFFICER)
def request_detail(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    rights_request = _officer_request(request_id)
    return render(
        request,
        "rights/backoffice/request.html",
        {
            "r": rights_request,
            "requester": selectors.requester(rights_request, current_user(request).actor()),
            "answer": selectors.answer_lines(rights_request),
            "extend_form": forms.ExtendForm(),
            "respond_form": forms.RespondForm(kind=rights_request.kind),
            "decide_form": forms.DecideForm(),
            "limits": selectors.limits_of_request(rights_request),
            "end_form": forms.RestrictionEndForm(),
        },
    )


@require_POST
@staff_required(OFFICER)
def respond(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    rights_request = _officer_request(request_id)
    form = forms.RespondForm(request.POST, kind=rights_request.kind)
    try:
        if form.is_valid():
            services.request_respond(
                request=rights_request,
                by=current_user(request),
                note=form.cleaned_data["note"],
                purposes=form.cleaned_data.get("purposes") or [],
            )
            messages.success(request, _("Het antwoord is gemaakt en verstuurd."))
        else:
            messages.error(
                request, _("Er is niets verstuurd: het formulier is niet goed ingevuld.")
            )
    except services.RightsError as exc:
        _refused(request, exc)
    return redirect("rights_backoffice:request", request_id=request_id)


@require_POST
@staff_required(OFFICER)
def limit_end(request: HttpRequest, limit_id: int) -> HttpResponse:
    found = selectors.limit(limit_id)
    if found is None:
        raise Http404
    chosen = None
    if found.kind == found.Kind.RESTRICTION:
        form = forms.RestrictionEndForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Geef een geldige laatste dag van de beperking."))
            return _back_to_request(found)
        chosen = form.cleaned_data["ends_on"]
    try:
        ends_on = services.processing_limit_end(
            limit=found, by=current_user(request), ends_on=chosen
        )
    except services.RightsError as exc:
        _refused(request, exc)
    else:
        if ends_on is None:
            messages.success(request, _("Het bezwaar geldt niet meer."))
        else:
            messages.success(
                request,
                _(
                    "De beperking eindigt op %(date)s. De persoon krijgt %(days)s dagen "
                    "vooraf bericht; daarna heft kluis de beperking zelf op."
                )
                % {
                    "date": long_date(ends_on),
                    "days": limits.restriction_notice_days(),
                },
            )
    return _back_to_request(found)


def _back_to_request(found: ProcessingLimit) -> HttpResponse:
    if found.request_id is None:
        return redirect("rights_backoffice:queue")
    return redirect("rights_backoffice:request", request_id=found.request_id)


@require_POST
@staff_required(OFFICER)
def extend(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    rights_request = _officer_request(request_id)
    form = forms.ExtendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Geef een termijn en een reden van minstens 10 tekens."))
        return redirect("rights_backoffice:request", request_id=request_id)
    try:
        services.request_extend(
            request=rights_request, by=current_user(request), **form.cleaned_data
        )
    except services.RightsError as exc:
        _refused(request, exc)
    else:
        messages.success(
            request,
            _("De termijn loopt nu tot en met %(date)s; de verzoeker krijgt een e-mail.")
            % {"date": long_date(rights_request.extended_to)},
        )
    return redirect("rights_backoffice:request", request_id=request_id)


@require_POST
@staff_required(OFFICER)
def ask_id(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    try:
        services.verification_ask_id_copy(
            request=_officer_request(request_id), by=current_user(request)
        )
    except services.RightsError as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("De verzoeker krijgt een e-mail met de vraag om een ID-kopie."))
    return redirect("rights_backoffice:request", request_id=request_id)


@staff_required(OFFICER)
def id_copy(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    """The page that shows the ID copy; the copy itself is the image below it."""
    rights_request = _officer_request(request_id)
    if rights_request.status != RightsRequest.Status.AWAITING_ID:
        raise Http404
    return render(request, "rights/backoffice/id_copy.html", {"r": rights_request})


@staff_required(OFFICER)
def id_copy_image(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    """The ID copy drawn again on the server as a PNG: never the uploaded file."""
    rights_request = _officer_request(request_id)
    found = services.id_copy_open(request=rights_request, by=current_user(request))
    if found is None:
        raise Http404
    caption = _("Alleen voor de controle van verzoek %(id)s") % {"id": str(rights_request.pk)[:8]}
    try:
        image = uploads.render_preview(found[0], found[1], caption=caption)
    except uploads.UploadRefused:
        raise Http404 from None
    return uploads.attachment_response(image, mimetype=uploads.PNG, filename="id-kopie")


@require_POST
@staff_required(OFFICER)
def decide(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    form = forms.DecideForm(request.POST)
    try:
        if form.is_valid():
            services.verification_decide(
                request=_officer_request(request_id),
                by=current_user(request),
                verified=form.cleaned_data["verified"],
                customer=form.cleaned_data["customer_number"],
            )
            messages.success(request, _("Je besluit over de identiteit is vastgelegd."))
        else:
            messages.error(request, _("Kies of de identiteit is vastgesteld."))
    except services.RightsError as exc:
        _refused(request, exc)
    return redirect("rights_backoffice:request", request_id=request_id)


@staff_required(OFFICER)
def officer_export(request: HttpRequest, request_id: uuid.UUID, fmt: str) -> HttpResponse:
    rights_request = _officer_request(request_id)
    if rights_request.subject is None or not rights_request.is_verified:
        raise Http404
    try:
        export = build_export(
            subject=rights_request.subject,
            actor=current_user(request).actor(),
            language=rights_request.language,
            case=Case("rights_request", str(rights_request.pk)),
        )
    except RevealRefused:
        # The request is closed: it no longer opens the person's data (refusal audited).
        messages.error(request, _("Dit verzoek is afgehandeld; de gegevens blijven afgeschermd."))
        return redirect("rights_backoffice:request", request_id=request_id)
    return _download(export, fmt)


@staff_required(OFFICER)
def officer_rectify(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    rights_request = _officer_request(request_id)
    customer = selectors.customer_of(rights_request)
    if customer is None or not rights_request.is_verified:
        raise Http404
    form = forms.RectifyForm(request.POST or None, country=customer.country)
    form.fields["name"].required = False
    if request.method == "POST" and form.is_valid():
        changes = {k: v for k, v in form.cleaned_data.items() if v}
        services.rectify(
            customer=customer,
            changes=changes,
            by=current_user(request).actor(),
            request=rights_request,
        )
        messages.success(request, _("De gegevens zijn aangepast."))
        return redirect("rights_backoffice:request", request_id=request_id)
    return render(request, "rights/backoffice/rectify.html", {"r": rights_request, "form": form})


@require_POST
@staff_required(OFFICER)
def follow_up_done(request: HttpRequest, follow_up_id: int) -> HttpResponse:
    found = selectors.follow_up(follow_up_id)
    if found is None:
        raise Http404
    services.follow_up_done(follow_up=found, by=current_user(request))
    messages.success(request, _("De opvolging staat als gedaan vastgelegd."))
    return redirect("rights_backoffice:queue")


@staff_required(OFFICER)
def police(request: HttpRequest) -> HttpResponse:
    form = forms.PoliceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        made = legal_requests.police_register(
            customer=data["customer_number"],
            authority=data["authority"],
            legal_basis=data["legal_basis"],
            order_reference=data["order_reference"],
            categories=data["categories"],
            may_inform_subject=data["may_inform_subject"],
            confidential_until=data.get("confidential_until"),
            by=current_user(request),
        )
        messages.success(request, _("De vordering is vastgelegd."))
        return redirect("rights_backoffice:police-request", police_id=made.pk)
    return render(
        request,
        "rights/backoffice/police.html",
        {"form": form, "requests": selectors.police_requests()},
    )


def _police(police_id: int) -> PoliceRequest:
    found = selectors.police_request(police_id)
    if found is None:
        raise Http404
    return found


@staff_required(OFFICER)
def police_request(request: HttpRequest, police_id: int) -> HttpResponse:
    found = _police(police_id)
    return render(
        request,
        "rights/backoffice/police_request.html",
        {
            "p": found,
            "form": forms.PoliceDecideForm(requested=found.categories),
            "labels": selectors.category_labels(found.categories),
            "approved_labels": selectors.category_labels(found.approved_categories),
        },
    )


@require_POST
@staff_required(OFFICER)
def police_confidentiality_end(request: HttpRequest, police_id: int) -> HttpResponse:
    try:
        legal_requests.police_confidentiality_end(
            police=_police(police_id), by=current_user(request)
        )
    except services.RightsError as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("De geheimhouding is opgeheven: de persoon ziet het nu."))
    return redirect("rights_backoffice:police-request", police_id=police_id)


@require_POST
@staff_required(OFFICER)
def police_decide(request: HttpRequest, police_id: int) -> HttpResponse:
    found = _police(police_id)
    form = forms.PoliceDecideForm(request.POST, requested=found.categories)
    try:
        if form.is_valid():
            legal_requests.police_decide(
                police=found,
                approve=form.cleaned_data["approve"],
                categories=form.cleaned_data["categories"],
                by=current_user(request),
            )
            messages.success(request, _("Je besluit over de vordering is vastgelegd."))
        else:
            messages.error(request, _("Kies goedkeuren of afwijzen, en welke gegevens."))
    except services.RightsError as exc:
        _refused(request, exc)
    return redirect("rights_backoffice:police-request", police_id=police_id)


@require_POST
@staff_required(OFFICER)
def police_answer(request: HttpRequest, police_id: int) -> HttpResponse:
    try:
        answer = legal_requests.police_answer(police=_police(police_id), by=current_user(request))
    except services.RightsError as exc:
        _refused(request, exc)
        return redirect("rights_backoffice:police-request", police_id=police_id)
    content, content_type, name = legal_requests.police_answer_download(answer, police_id)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


# --- the public form and its links ---------------------------------------------------------------


def public_request(request: HttpRequest) -> HttpResponse:
    form = forms.PublicRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.request_from_public(
            name=data["name"],
            email=data["email"],
            kind=data["kind"],
            language=(translation.get_language() or "nl")[:2],
            client_address=client_address(request),
        )
        return redirect("rights:sent")
    return render(request, "rights/public/request.html", {"form": form})


def public_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "rights/public/sent.html")


def confirm(request: HttpRequest, token: str) -> HttpResponse:
    rights_request = links.request_for_token(token, links.CONFIRM)
    if rights_request is None or rights_request.status != RightsRequest.Status.UNCONFIRMED:
        return render(request, "rights/public/link_invalid.html", status=400)
    if request.method == "POST":
        services.request_confirm(request=rights_request)
        return render(request, "rights/public/confirmed.html", {"r": rights_request})
    return render(request, "rights/public/confirm.html", {"r": rights_request})


def id_upload(request: HttpRequest, token: str) -> HttpResponse:
    rights_request = links.request_for_token(token, links.UPLOAD)
    if rights_request is None or rights_request.status != RightsRequest.Status.AWAITING_ID:
        return render(request, "rights/public/link_invalid.html", status=400)
    form = forms.IdUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        content, _mimetype = form.cleaned_data["document"]
        services.id_copy_store(request=rights_request, content=content)
        return render(request, "rights/public/uploaded.html")
    return render(request, "rights/public/id_upload.html", {"form": form})
