"""The customer's sites: the admin allowlist, support access to it, help requests."""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis import uploads
from kluis.accounts.decorators import customer_required
from kluis.accounts.http import current_user
from kluis.accounts.models import Customer
from kluis.policy.enforce import Actor
from kluis.sites import attachments, services
from kluis.sites.addresses import canonical, parse_network, visitor_address
from kluis.sites.attachments import AttachForm
from kluis.sites.forms import AllowEntryForm, HelpReplyForm, HelpRequestForm
from kluis.sites.hosts import names_of
from kluis.sites.models import AllowEntry, HelpAttachment, HelpRequest, Site, SupportGrant
from kluis.sites.shop_link import package_name, sites_sync
from kluis.vault.reveal import reveal_many


def _customer(request: HttpRequest) -> Customer:
    customer = current_user(request).customer
    assert customer is not None
    return customer


M = TypeVar("M", bound=Model)


def _own(request: HttpRequest, model: type[M], pk: object) -> M:
    """The visitor's own row of `model` (each has a `customer`), or 404."""
    found = model._default_manager.filter(pk=pk, customer=_customer(request)).first()
    if found is None:
        raise Http404
    return found


def _site(request: HttpRequest, site_id: int) -> Site:
    return _own(request, Site, site_id)


@never_cache
@customer_required
def sites(request: HttpRequest) -> HttpResponse:
    sites_sync()
    mine = list(
        Site.objects.filter(customer=_customer(request)).select_related("subscription__product")
    )
    language = get_language() or "nl"
    names = names_of(mine, actor=Actor.subject(_customer(request).pk))
    return render(
        request,
        "sites/portal/sites.html",
        {
            "sites": [(s, package_name(s, language), names[s.pk]) for s in mine],
            # The statement's "we show you your current IP address" links here.
            "address": visitor_address(request),
        },
    )


def _site_page(
    request: HttpRequest, site: Site, form: AllowEntryForm | None = None
) -> HttpResponse:
    now = timezone.now()
    entries = list(site.allow_entries.current(now).select_related("site", "grant__staff"))
    actor = Actor.subject(site.customer_id)
    plain = reveal_many(entries, ["network"], purpose="admin_access", actor=actor)
    rows = [(e, p["network"]) for e, p in zip(entries, plain, strict=True)]
    address = visitor_address(request)
    on_list = False
    address_problem = ""
    if address is not None:
        try:
            network = parse_network(str(address))
        except ValidationError as exc:
            address_problem = " ".join(str(m) for m in exc.messages)
        else:
            on_list = any(text == canonical(network) for _e, text in rows)
    return render(
        request,
        "sites/portal/site.html",
        {
            "site": site,
            "names": names_of([site], actor=actor)[site.pk],
            "package": package_name(site, get_language() or "nl"),
            "entries": rows,
            "address": address,
            "address_problem": address_problem,
            "on_list": on_list,
            "form": form or AllowEntryForm(),
            "grants": list(site.grants.select_related("staff", "help_request")),
            "now": now,
        },
    )


@never_cache
@customer_required
def site(request: HttpRequest, site_id: int) -> HttpResponse:
    return _site_page(request, _site(request, site_id))


@require_POST
@customer_required
def entry_add(request: HttpRequest, site_id: int) -> HttpResponse:
    site = _site(request, site_id)
    form = AllowEntryForm(request.POST)
    if not form.is_valid():
        return _site_page(request, site, form)
    try:
        services.entry_add(
            site=site,
            text=form.cleaned_data["network"],
            label=form.cleaned_data["label"],
            expires_at=form.cleaned_data["expires_at"],
            by=current_user(request),
        )
    except ValidationError as exc:
        for message in exc.messages:
            form.add_error(None, message)
        return _site_page(request, site, form)
    except services.SitesError as exc:
        messages.error(request, str(exc.message))
        return redirect("sites_portal:site", site_id=site.pk)
    messages.success(request, _("Het adres staat op de toegangslijst."))
    return redirect("sites_portal:site", site_id=site.pk)


@require_POST
@customer_required
def entry_add_current(request: HttpRequest, site_id: int) -> HttpResponse:
    """One click: the address this request came from (never one the browser names)."""
    site = _site(request, site_id)
    address = visitor_address(request)
    if address is None:
        messages.error(request, _("We kunnen je huidige IP-adres niet bepalen."))
        return redirect("sites_portal:site", site_id=site.pk)
    try:
        services.entry_add(
            site=site,
            text=str(address),
            label=_("huidig adres"),
            expires_at=None,
            by=current_user(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except services.SitesError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Je huidige IP-adres staat op de toegangslijst."))
    return redirect("sites_portal:site", site_id=site.pk)


@require_POST
@customer_required
def entry_remove(request: HttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    entry = (
        AllowEntry.objects.filter(
            pk=entry_id, site__customer=_customer(request), grant__isnull=True
        )
        .select_related("site")
        .first()
    )
    if entry is None:
        raise Http404
    services.entry_remove(entry=entry, by=current_user(request))
    messages.success(request, _("Het adres is van de toegangslijst gehaald."))
    return redirect("sites_portal:site", site_id=entry.site_id)


@require_POST
@customer_required
def grant_end(request: HttpRequest, grant_id: int) -> HttpResponse:
    grant = (
        SupportGrant.objects.filter(pk=grant_id, site__customer=_customer(request))
        .select_related("site")
        .first()
    )
    if grant is None:
        raise Http404
    try:
        services.grant_end(grant=grant, by=current_user(request))
    except services.SitesError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("De toegang van support is beëindigd."))
    return redirect("sites_portal:site", site_id=grant.site_id)


@never_cache
@customer_required
def help_requests(request: HttpRequest) -> HttpResponse:
    mine = HelpRequest.objects.filter(customer=_customer(request)).order_by("-created_at")
    return render(request, "sites/portal/help_requests.html", {"requests": mine})


@customer_required
def help_request_new(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    mine = Site.objects.filter(customer=customer)
    form = HelpRequestForm(
        request.POST or None,
        request.FILES or None,
        sites=mine,
        initial={"site": request.GET.get("site")},
    )
    if request.method == "POST" and form.is_valid():
        # The request and its files together, or neither.
        with transaction.atomic():
            made = services.help_request_open(
                customer=customer,
                about=form.cleaned_data["about"],
                site=form.cleaned_data["site"],
                message=form.cleaned_data["message"],
            )
            attachments.attachments_add(
                request=made, files=form.cleaned_data["attachments"], by=current_user(request)
            )
        messages.success(request, _("We hebben je hulpvraag ontvangen."))
        return redirect("sites_portal:help-request", request_id=made.pk)
    return render(request, "sites/portal/help_request_new.html", {"form": form})


@never_cache
@customer_required
def help_request(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    found = _own_help_request(request, request_id)
    if request.method == "POST":
        try:
            services.help_reply(
                request=found, body=request.POST.get("body", "")[:5000], by=current_user(request)
            )
        except services.SitesError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Je bericht is verstuurd."))
        return redirect("sites_portal:help-request", request_id=found.pk)
    return _help_request_page(request, found)


def _help_request_page(
    request: HttpRequest, found: HelpRequest, attach_form: AttachForm | None = None
) -> HttpResponse:
    me = Actor.subject(found.customer_id)
    message = found.message.reveal(purpose="answer_questions", actor=me) if found.message else ""
    thread = list(found.thread.select_related("help_request"))
    plain = reveal_many(thread, ["body"], purpose="answer_questions", actor=me)
    return render(
        request,
        "sites/portal/help_request.html",
        {
            "help": found,
            "message": message,
            "thread": [(m, p["body"]) for m, p in zip(thread, plain, strict=True)],
            "attachments": attachments.attachment_names(list(found.attachments.all()), actor=me),
            "attach_form": attach_form or AttachForm(),
            "grants": found.grants.select_related("staff"),
            "reply_form": HelpReplyForm(),
        },
        status=400 if attach_form is not None else 200,
    )


def _own_help_request(request: HttpRequest, request_id: uuid.UUID) -> HelpRequest:
    return _own(request, HelpRequest, request_id)


@require_POST
@customer_required
def help_attach(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    found = _own_help_request(request, request_id)
    form = AttachForm(request.POST, request.FILES)
    if not form.is_valid():
        return _help_request_page(request, found, form)
    try:
        made = attachments.attachments_add(
            request=found, files=form.cleaned_data["attachments"], by=current_user(request)
        )
    except attachments.AttachmentError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request,
            ngettext(
                "We hebben %(n)s bijlage toegevoegd.",
                "We hebben %(n)s bijlagen toegevoegd.",
                len(made),
            )
            % {"n": len(made)},
        )
    return redirect("sites_portal:help-request", request_id=found.pk)


@never_cache
@customer_required
def help_attachment(request: HttpRequest, attachment_id: uuid.UUID) -> HttpResponse:
    row = _own(request, HelpAttachment, attachment_id)
    try:
        name, content = attachments.attachment_file(row, actor=Actor.subject(row.customer_id))
    except attachments.AttachmentError:
        raise Http404 from None
    return uploads.attachment_response(
        content, mimetype=row.mimetype, filename=name.rsplit(".", 1)[0]
    )
