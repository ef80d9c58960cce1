"""The sites desk and the help desk of the back office."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis import uploads
from kluis.accounts.decorators import staff_required
from kluis.accounts.http import current_user
from kluis.audit.chain import audit_append
from kluis.billing.dunning import customers_in_arrears
from kluis.policy.cases import Case
from kluis.sites import services
from kluis.sites.addresses import visitor_address
from kluis.sites.attachments import AttachmentError, attachment_file, attachment_names
from kluis.sites.forms import (
    GrantForm,
    HelpAnswerForm,
    HostingNodeForm,
    HostSearchForm,
    SiteForm,
    SiteNodeForm,
    SitePortForm,
    UpdateGrantForm,
    port_outside_message,
    range_outside_message,
)
from kluis.sites.hosts import host_count, host_digest, names_set
from kluis.sites.models import (
    FirewallExport,
    HelpAttachment,
    HelpMessage,
    HelpRequest,
    HostingNode,
    Site,
    SiteAdminUrl,
    SupportGrant,
)
from kluis.sites.shop_link import site_set_status
from kluis.vault.errors import KeyShredded, RevealRefused
from kluis.vault.reveal import reveal_many

# Finance suspends a site for non-payment (the customer is mailed) and sets it live again.
DESK_ROLES = ("support", "orders", "finance")


# What the desk says of a live site whose customer is far behind on an invoice.
ARREARS = {
    "collector": _lazy("factuur bij het incassobureau"),
    "letter": _lazy("onbetaald na de veertiendagenbrief"),
}


@never_cache
@staff_required(*DESK_ROLES)
def desk(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    sites = Site.objects.annotate(
        entries=Count(
            "allow_entries",
            filter=Q(allow_entries__expires_at__isnull=True) | Q(allow_entries__expires_at__gt=now),
        )
    ).order_by("status", "pk")
    # Exact look-up by host name, through its blind index: no host name is shown.
    search = HostSearchForm(request.GET or None)
    host = search.cleaned_data["hostnaam"] if search.is_valid() else ""
    if host:
        sites = sites.filter(host_rows__name_index=host_digest(host.rstrip(".")))
    running = SupportGrant.objects.filter(
        ended_at__isnull=True, starts_at__lte=now, ends_at__gt=now
    ).select_related("site")
    # Live sites of customers far behind on an invoice: staff decide on suspending.
    arrears = customers_in_arrears(timezone.localdate())
    rows = list(sites.select_related("customer", "node"))
    for site in rows:
        site.arrears = (  # type: ignore[attr-defined]
            ARREARS.get(arrears.get(site.customer_id, ""), "")
            if site.status == Site.Status.LIVE
            else ""
        )
    return render(
        request,
        "sites/backoffice/desk.html",
        {
            "sites": rows,
            "search": search if search.is_bound else HostSearchForm(),
            "running": running,
            "last_export": FirewallExport.objects.first(),
            "statuses": Site.Status.choices,
        },
    )


@require_POST
@staff_required("orders", "finance")
def site_status(request: HttpRequest, site_id: int) -> HttpResponse:
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        raise Http404
    status = request.POST.get("status", "")
    allowed = {Site.Status.LIVE, Site.Status.SUSPENDED}
    if status not in allowed or site.status == Site.Status.ENDED:
        messages.error(request, _("Deze status kan hier niet worden gekozen."))
    else:
        from kluis.sites.firewall import export_request

        with transaction.atomic():
            mailed = site_set_status(site, status, actor=current_user(request).actor().ref)
            export_request(site.pk)
        if mailed:
            messages.success(request, _("De status van de site is bijgewerkt."))
        else:
            messages.warning(
                request,
                _(
                    "De site is opgeschort, maar de klant krijgt er geen e-mail over: de "
                    "klant heeft de verwerking van zijn gegevens laten beperken (art. 18 "
                    "AVG)."
                ),
            )
    return redirect("sites_backoffice:desk")


@never_cache
@staff_required("support")
def help_desk(request: HttpRequest) -> HttpResponse:
    waiting = HelpRequest.objects.exclude(status=HelpRequest.Status.CLOSED).order_by("created_at")
    return render(request, "sites/backoffice/help_desk.html", {"requests": waiting})


def _help_request(request_id: uuid.UUID) -> HelpRequest:
    found = HelpRequest.objects.filter(pk=request_id).select_related("site").first()
    if found is None:
        raise Http404
    return found


@never_cache
@staff_required("support")
def help_request(
    request: HttpRequest, request_id: uuid.UUID, form: GrantForm | None = None
) -> HttpResponse:
    found = _help_request(request_id)
    message = ""
    thread: list[tuple[HelpMessage, str | None]] = []
    files: list[tuple[HelpAttachment, str]] = []
    erased = restricted = False
    if found.message and found.status != HelpRequest.Status.CLOSED:
        actor = current_user(request).actor()
        case = Case("help_request", str(found.pk))
        try:
            message = found.message.reveal(purpose="answer_questions", actor=actor, case=case)
        except KeyShredded:
            # The customer was erased: the thread's key is gone with them.
            erased = True
        except RevealRefused:
            # The customer restricted processing (art. 18 GDPR): the page says so.
            restricted = True
        else:
            rows = list(found.thread.select_related("help_request"))
            plain = reveal_many(rows, ["body"], purpose="answer_questions", actor=actor, case=case)
            thread = [(m, p["body"]) for m, p in zip(rows, plain, strict=True)]
            files = attachment_names(list(found.attachments.all()), actor=actor, case=case)
    return render(
        request,
        "sites/backoffice/help_request.html",
        {
            "help": found,
            "message": message,
            "erased": erased,
            "restricted": restricted,
            "thread": thread,
            "attachments": files,
            "answer_form": HelpAnswerForm(),
            "form": form or GrantForm(),
            "grants": found.grants.select_related("staff"),
            "address": visitor_address(request),
        },
    )


@require_POST
@staff_required("support")
def grant_open(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    found = _help_request(request_id)
    form = GrantForm(request.POST)
    if not form.is_valid():
        return help_request(request, request_id, form=form)
    address = visitor_address(request)
    try:
        services.grant_open(
            help_request=found,
            staff=current_user(request),
            hours=form.cleaned_data["hours"],
            staff_address=str(address or ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except services.SitesError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Toegang geopend; de klant ziet dit in het portaal."))
    return redirect("sites_backoffice:help-request", request_id=found.pk)


@require_POST
@staff_required("support")
def grant_end(request: HttpRequest, grant_id: int) -> HttpResponse:
    grant = SupportGrant.objects.filter(pk=grant_id).select_related("site").first()
    if grant is None:
        raise Http404
    try:
        services.grant_end(grant=grant, by=current_user(request))
    except services.SitesError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("De toegang is beëindigd."))
    if grant.help_request_id:
        return redirect("sites_backoffice:help-request", request_id=grant.help_request_id)
    return redirect("sites_backoffice:desk")


@require_POST
@staff_required("support")
def help_answer(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    found = _help_request(request_id)
    try:
        services.help_reply(
            request=found, body=request.POST.get("body", "")[:5000], by=current_user(request)
        )
    except services.SitesError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Je antwoord gaat per e-mail naar de klant."))
    return redirect("sites_backoffice:help-request", request_id=found.pk)


@require_POST
@staff_required("support")
def help_close(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    found = _help_request(request_id)
    try:
        services.help_request_close(request=found, by=current_user(request))
    except services.SitesError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("De hulpvraag is gesloten."))
    return redirect("sites_backoffice:help-desk")


@never_cache
@staff_required("support")
def help_attachment(request: HttpRequest, attachment_id: uuid.UUID) -> HttpResponse:
    """One attachment, opened within the case of its help request (audited)."""
    row = HelpAttachment.objects.filter(pk=attachment_id).first()
    if row is None:
        raise Http404
    case = Case("help_request", str(row.help_request_id))
    try:
        name, content = attachment_file(row, actor=current_user(request).actor(), case=case)
    except (AttachmentError, KeyShredded):
        raise Http404 from None
    except RevealRefused:
        messages.error(
            request,
            _(
                "Deze bijlage is nu niet in te zien: de hulpvraag is gesloten of de klant "
                "heeft de verwerking laten beperken."
            ),
        )
        return redirect("sites_backoffice:help-request", request_id=row.help_request_id)
    return uploads.attachment_response(
        content, mimetype=row.mimetype, filename=name.rsplit(".", 1)[0]
    )


@staff_required("orders")
def site_edit(request: HttpRequest, site_id: int) -> HttpResponse:
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        raise Http404
    # Sealed (kluis/sites/hosts.py): written here, never shown back to staff.
    form = SiteForm(request.POST or None, site=site)
    if request.method == "POST" and form.is_valid():
        names_set(site, form.cleaned_data["host_names"].split(), form.cleaned_data["admin_url"])
        audit_append(
            action="sites.site_edited",
            actor=current_user(request).actor().ref,
            subject=site.customer_id,
            data={"site": site.pk},
        )
        messages.success(request, _("De site is bijgewerkt."))
        return redirect("sites_backoffice:desk")
    return _site_page(request, site, form=form)


def _site_page(
    request: HttpRequest,
    site: Site,
    *,
    form: SiteForm | None = None,
    port_form: SitePortForm | None = None,
    node_form: SiteNodeForm | None = None,
) -> HttpResponse:
    return render(
        request,
        "sites/backoffice/site.html",
        {
            "site": site,
            "form": form or SiteForm(site=site),
            "port_form": port_form
            or SitePortForm(initial={"admin_port": site.admin_port}, site=site),
            "node_form": node_form or SiteNodeForm(initial={"node": site.node_id}, site=site),
            "has_nodes": HostingNode.objects.exists(),
            "hosts": host_count(site),
            "has_admin_url": SiteAdminUrl.objects.filter(site=site).exists(),
        },
    )


@require_POST
@staff_required("orders")
def site_port(request: HttpRequest, site_id: int) -> HttpResponse:
    """Set or clear the TCP port of the site's admin; the firewall export takes it up."""
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        raise Http404
    form = SitePortForm(request.POST, site=site)
    if not form.is_valid():
        return _site_page(request, site, port_form=form)
    port = form.cleaned_data["admin_port"]
    if port == site.admin_port:
        messages.info(request, _("De poort was al zo ingesteld."))
        return redirect("sites_backoffice:site", site_id=site.pk)
    from kluis.sites.nodes import PortOutsideRange, site_port_set

    before = site.admin_port
    try:
        site_port_set(site, port, actor=current_user(request).actor().ref)
    except PortOutsideRange as refused:
        # The node's range was narrowed after the form looked at it.
        site.admin_port = before
        form.add_error("admin_port", port_outside_message(refused.node, port))
        return _site_page(request, site, port_form=form)
    except IntegrityError:
        # Another member of staff gave the port to another site of the node a moment ago.
        site.admin_port = before
        form.add_error(
            "admin_port",
            _("Poort %(port)s is net aan een andere site gegeven; kies een andere.")
            % {"port": port},
        )
        return _site_page(request, site, port_form=form)
    messages.success(request, _("De poort van de beheeromgeving is bijgewerkt."))
    return redirect("sites_backoffice:site", site_id=site.pk)


@require_POST
@staff_required("orders")
def site_node(request: HttpRequest, site_id: int) -> HttpResponse:
    """Place the site on a hosting node, or back on none; its admin port follows."""
    from kluis.sites.nodes import site_node_set

    site = Site.objects.filter(pk=site_id).select_related("node").first()
    if site is None:
        raise Http404
    form = SiteNodeForm(request.POST, site=site)
    if not form.is_valid():
        if not HostingNode.objects.filter(active=True).exists():
            # The site's page shows no node form then: say it where it can be done.
            messages.error(
                request, _("Er is nog geen hostingnode in gebruik: voeg er eerst een toe.")
            )
            return redirect("sites_backoffice:nodes")
        return _site_page(request, site, node_form=form)
    node: HostingNode | None = form.cleaned_data["node"]
    if (node.pk if node is not None else None) == site.node_id:
        messages.info(request, _("De site stond al op deze node."))
        return redirect("sites_backoffice:site", site_id=site.pk)
    before = (site.node_id, site.admin_port)
    try:
        port_from, port_to = site_node_set(site, node, actor=current_user(request).actor().ref)
    except IntegrityError:
        # Another member of staff gave that port on the node away a moment ago.
        site.node_id, site.admin_port = before
        form.add_error(
            None, _("Een andere site kreeg net die poort op deze node; probeer opnieuw.")
        )
        return _site_page(request, site, node_form=form)
    if node is None:
        if port_from is not None and port_to is None:
            messages.warning(
                request,
                _(
                    "De site staat nu op geen node. Een andere site zonder node heeft "
                    "beheerpoort %(port)s al: deze site heeft geen eigen beheerpoort meer."
                )
                % {"port": port_from},
            )
        else:
            messages.success(request, _("De site staat nu op geen node."))
    elif port_from is not None and port_to is None:
        messages.warning(
            request,
            _(
                "De site staat nu op %(node)s, maar de poortreeks van die node is vol: de "
                "site heeft geen eigen beheerpoort meer."
            )
            % {"node": node.name},
        )
    elif port_from != port_to:
        messages.success(
            request,
            _("De site staat nu op %(node)s, met beheerpoort %(port)s.")
            % {"node": node.name, "port": port_to},
        )
    else:
        messages.success(request, _("De site staat nu op %(node)s.") % {"node": node.name})
    return redirect("sites_backoffice:site", site_id=site.pk)


@never_cache
@staff_required("orders")
def nodes(request: HttpRequest) -> HttpResponse:
    """The hosting nodes and their admin port ranges; a new node."""
    form = HostingNodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        node = _node_save(request, form, action="sites.node_created")
        assert node is not None  # a new node has no sites
        messages.success(request, _("Node %(name)s is toegevoegd.") % {"name": node.name})
        return redirect("sites_backoffice:nodes")
    rows = HostingNode.objects.annotate(
        placed=Count("sites", filter=~Q(sites__status=Site.Status.ENDED))
    )
    return render(
        request,
        "sites/backoffice/nodes.html",
        {"nodes": rows, "form": form, "unplaced": Site.objects.filter(node=None).count()},
    )


@never_cache
@staff_required("orders")
def node_edit(request: HttpRequest, node_id: int) -> HttpResponse:
    node = HostingNode.objects.filter(pk=node_id).first()
    if node is None:
        raise Http404
    form = HostingNodeForm(request.POST or None, instance=node)
    if request.method == "POST" and form.is_valid():
        if _node_save(request, form, action="sites.node_edited") is not None:
            messages.success(request, _("Node %(name)s is bijgewerkt.") % {"name": node.name})
            return redirect("sites_backoffice:nodes")
        node.refresh_from_db()
    return _node_page(request, node, form)


def _node_page(request: HttpRequest, node: HostingNode, form: HostingNodeForm) -> HttpResponse:
    from kluis.api.models import ApiToken

    # What the node's own tokens last did: shown beside the confirmation, not taken for it.
    tokens = ApiToken.objects.filter(node=node, revoked_at=None).order_by("-last_used_at")
    return render(
        request,
        "sites/backoffice/node.html",
        {
            "node": node,
            "form": form,
            "sites": node.sites.exclude(status=Site.Status.ENDED).count(),
            "tokens": tokens.only("name", "prefix", "last_used_at"),
        },
    )


@require_POST
@never_cache
@staff_required("orders")
def node_switched(request: HttpRequest, node_id: int) -> HttpResponse:
    """Orders staff confirm that the node's machine loads its own directory and uses its
    own token: its sites leave the export's top directory."""
    from kluis.sites.nodes import node_switched as switched

    node = HostingNode.objects.filter(pk=node_id).first()
    if node is None:
        raise Http404
    if switched(node, actor=current_user(request).actor().ref):
        messages.success(
            request,
            _(
                "Node %(name)s laadt nu zijn eigen map: zijn sites gaan bij de volgende "
                "export uit de bovenste map."
            )
            % {"name": node.name},
        )
    else:
        messages.info(request, _("Node %(name)s laadt zijn eigen map al.") % {"name": node.name})
    return redirect("sites_backoffice:node", node_id=node.pk)


def _node_save(request: HttpRequest, form: HostingNodeForm, *, action: str) -> HostingNode | None:
    """Save the node, audited; None (with the error on the form) when a site of it got a
    port outside the new range after the form looked."""
    from kluis.sites.firewall import export_request
    from kluis.sites.nodes import PortOutsideRange, node_save

    with transaction.atomic():
        node: HostingNode = form.save(commit=False)
        try:
            node_save(node)
        except PortOutsideRange as refused:
            form.add_error(None, range_outside_message(refused.ports))
            return None
        audit_append(
            action=action,
            actor=current_user(request).actor().ref,
            data={
                "node": node.pk,
                "name": node.name,
                "ports": [node.port_first, node.port_last],
                "active": node.active,
                "switching": node.switching,
            },
        )
        if action == "sites.node_created":
            export_request(None)  # its directory, with no site in it yet
    return node


@staff_required("support")
def update_grant(request: HttpRequest, site_id: int) -> HttpResponse:
    """Schedule support's access for an update, announced to the customer by mail."""
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        raise Http404
    form = UpdateGrantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_grant_schedule(
                site=site,
                staff=current_user(request),
                starts_at=form.cleaned_data["starts_at"],
                hours=form.cleaned_data["hours"],
                note=form.cleaned_data["note"],
                staff_address=str(visitor_address(request) or ""),
            )
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        except services.SitesError as exc:
            form.add_error(None, str(exc.message))
        else:
            messages.success(request, _("De update is aangekondigd; de klant krijgt een e-mail."))
            return redirect("sites_backoffice:desk")
    return render(
        request,
        "sites/backoffice/update_grant.html",
        {"site": site, "form": form, "address": visitor_address(request)},
    )
