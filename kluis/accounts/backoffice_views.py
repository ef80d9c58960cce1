"""The staff back office: navigation by role, customer search, reveal on purpose."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis.accounts import forms, selectors, services
from kluis.accounts.decorators import staff_required
from kluis.accounts.http import current_user
from kluis.accounts.models import Customer, User
from kluis.vault.errors import RevealRefused

CUSTOMER_ROLES = tuple(sorted(selectors.CUSTOMER_ROLES))
RESET_ROLES = ("support",)
ADMIN_ROLES = ("admin",)
# How many revealed values may stay open on a customer's page at once.
MAX_OPEN_VALUES = 10
DUTIES_REFUSED = {
    "own_roles": _lazy("Je wijzigt je eigen rollen niet; dat doet een andere beheerder."),
    "last_admin": _lazy("Dit is de laatste beheerder: die rol en dit account blijven."),
    "second_admin": _lazy(
        "Een rol die jij hebt gevraagd, of die jij zou krijgen, keurt een andere beheerder goed."
    ),
    "decided": _lazy("Over deze rol is al besloten."),
    "not_admin": _lazy("Alleen een beheerder besluit over rollen."),
    "inactive": _lazy("Dit account staat uit."),
}


def _customer(customer_id: uuid.UUID) -> Customer:
    customer = selectors.customer_for_staff(customer_id)
    if customer is None:
        raise Http404
    return customer


def _staff_member(user_id: uuid.UUID) -> User:
    user = selectors.staff_member(user_id)
    if user is None:
        raise Http404
    return user


@staff_required()
def home(request: HttpRequest) -> HttpResponse:
    roles = selectors.role_labels(current_user(request).role_set)
    return render(request, "accounts/backoffice/home.html", {"roles": roles})


@never_cache
@staff_required(*CUSTOMER_ROLES)
def customers(request: HttpRequest) -> HttpResponse:
    # A POST, so what staff search for stays out of URLs and server logs.
    form = forms.CustomerSearchForm(request.POST or None)
    found = None
    if request.method == "POST" and form.is_valid():
        found = services.customer_search(text=form.cleaned_data["q"], by=current_user(request))
    return render(request, "accounts/backoffice/customers.html", {"form": form, "found": found})


def _customer_page(
    request: HttpRequest,
    customer: Customer,
    form: forms.RevealForm,
    revealed: dict[str, str],
    kept: list[str] | None = None,
) -> HttpResponse:
    staff = current_user(request)
    from kluis.web.dashboard import portal_dashboard

    cases = selectors.customer_open_cases(customer)
    rows = []
    for f in selectors.customer_fields_for_staff(customer, staff):
        # The row of the field just asked for keeps what was chosen and its errors.
        asked = form.is_bound and form.data.get("field") == f.name
        row_form = (form if asked else forms.RevealForm()).as_row(f.name, f.purposes, cases)
        rows.append((f, revealed.get(f.name), row_form))
    context = {
        "customer": customer,
        "kept": kept or [],
        "board": portal_dashboard(customer),
        "rows": rows,
        "accounts": customer.users.order_by("date_joined"),
        "form": form,
        "may_send_reset": bool(staff.role_set & set(RESET_ROLES)),
        "may_see_mailboxes": "support" in staff.role_set,
    }
    return render(request, "accounts/backoffice/customer.html", context)


@never_cache
@staff_required(*CUSTOMER_ROLES)
def customer(request: HttpRequest, customer_id: uuid.UUID) -> HttpResponse:
    return _customer_page(request, _customer(customer_id), forms.RevealForm(), {})


@never_cache
@staff_required(*CUSTOMER_ROLES)
@require_POST
def customer_reveal(request: HttpRequest, customer_id: uuid.UUID) -> HttpResponse:
    customer = _customer(customer_id)
    actor = current_user(request).actor()
    revealed: dict[str, str] = {}
    kept: list[str] = []
    # Values already open stay open while support answers: each is read again, for its
    # own purpose and case, and each read is recorded. Nothing plain is kept between pages.
    for raw in request.POST.getlist("keep")[:MAX_OPEN_VALUES]:
        parts = raw.split("|", 2)
        if len(parts) != 3:
            continue
        earlier = forms.RevealForm(dict(zip(("field", "purpose", "case"), parts, strict=True)))
        if not earlier.is_valid():
            continue
        try:
            revealed[earlier.cleaned_data["field"]] = selectors.customer_value_reveal(
                customer=customer, actor=actor, **earlier.cleaned_data
            )
        except RevealRefused:
            continue
        kept.append(raw)
    form = forms.RevealForm(request.POST)
    if form.is_valid():
        name, purpose = form.cleaned_data["field"], form.cleaned_data["purpose"]
        try:
            revealed[name] = selectors.customer_value_reveal(
                customer=customer,
                field=name,
                purpose=purpose,
                actor=actor,
                case=form.cleaned_data["case"],
            )
        except RevealRefused as refusal:
            form.add_error(None, _("Niet toegestaan: %(reason)s") % {"reason": refusal})
        else:
            case = form.cleaned_data["case"]
            kept.append(f"{name}|{purpose}|{case or ''}")
    return _customer_page(request, customer, form, revealed, kept)


@staff_required(*RESET_ROLES)
@require_POST
def customer_password_reset(request: HttpRequest, customer_id: uuid.UUID) -> HttpResponse:
    customer = _customer(customer_id)
    form = forms.AccountChoiceForm(request.POST)
    user = customer.users.filter(pk=form.cleaned_data["user"]).first() if form.is_valid() else None
    if user is None:
        raise Http404
    try:
        services.password_reset_send(user=user, by=current_user(request))
    except services.AccountError:
        messages.error(request, _("Dit account staat uit; er is geen e-mail verstuurd."))
    else:
        messages.success(
            request, _("De klant krijgt een e-mail om een nieuw wachtwoord te kiezen.")
        )
    return redirect("backoffice:customer", customer_id=customer.id)


@staff_required(*ADMIN_ROLES)
def staff(request: HttpRequest) -> HttpResponse:
    form = forms.StaffInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.staff_invite(
                email=form.cleaned_data["email"],
                roles=form.cleaned_data["roles"],
                by=current_user(request),
                name=form.cleaned_data["name"],
            )
        except services.DutiesRefused as exc:
            form.add_error("roles", _duties_message(exc))
        except services.AccountError:
            form.add_error("email", _("Er bestaat al een account met dit e-mailadres."))
        else:
            messages.success(request, _("De uitnodiging is verstuurd."))
            return redirect("backoffice:staff")
    context = {
        "form": form,
        # Each member's roles as a checkbox group of its own, ids unique on the page.
        "members": [
            (
                m,
                forms.StaffRolesForm(
                    initial={"roles": sorted(m.role_set)}, auto_id=f"roles-{m.pk}-%s"
                ),
            )
            for m in selectors.staff_members()
        ],
        "grants": selectors.role_grants_open(),
    }
    return render(request, "accounts/backoffice/staff.html", context)


@staff_required(*ADMIN_ROLES)
@require_POST
def staff_roles(request: HttpRequest, user_id: uuid.UUID) -> HttpResponse:
    member = _staff_member(user_id)
    form = forms.StaffRolesForm(request.POST)
    if form.is_valid():
        try:
            grants = services.staff_roles_set(
                staff=member, roles=form.cleaned_data["roles"], by=current_user(request)
            )
        except services.DutiesRefused as exc:
            messages.error(request, _duties_message(exc))
        else:
            messages.success(request, _("De rollen zijn bijgewerkt."))
            if grants:
                messages.info(
                    request,
                    _("Een tweede beheerder moet deze rollen nog goedkeuren: %(roles)s.")
                    % {"roles": ", ".join(_role_label(g.role) for g in grants)},
                )
    return redirect("backoffice:staff")


@staff_required(*ADMIN_ROLES)
@require_POST
def role_grant_decide(request: HttpRequest, grant_id: int) -> HttpResponse:
    grant = selectors.role_grant(grant_id)
    if grant is None:
        raise Http404
    form = forms.RoleGrantDecideForm(request.POST)
    if form.is_valid():
        try:
            services.role_grant_decide(
                grant=grant, approve=form.cleaned_data["approve"], by=current_user(request)
            )
        except services.DutiesRefused as exc:
            messages.error(request, _duties_message(exc))
        else:
            messages.success(request, _("Je besluit is vastgelegd."))
    return redirect("backoffice:staff")


def _role_label(key: str) -> str:
    return dict(selectors.role_labels(frozenset({key}))).get(key, key)


def _duties_message(exc: services.DutiesRefused) -> str:
    if exc.code == "incompatible":
        first, second = exc.detail.split("+")
        return _(
            "Eén persoon heeft niet tegelijk de rollen %(first)s en %(second)s "
            "(scheiding van functies, zie het privacybeleid)."
        ) % {"first": _role_label(first), "second": _role_label(second)}
    return str(DUTIES_REFUSED.get(exc.code, DUTIES_REFUSED["own_roles"]))


@staff_required(*ADMIN_ROLES)
@require_POST
def staff_deactivate(request: HttpRequest, user_id: uuid.UUID) -> HttpResponse:
    member = _staff_member(user_id)
    try:
        services.user_deactivate(user=member, by=current_user(request))
    except services.DutiesRefused as exc:
        messages.error(request, _duties_message(exc))
    except services.AccountError:
        messages.error(request, _("Je kunt je eigen account niet uitzetten."))
    else:
        messages.success(request, _("Het account staat uit; alle sessies zijn beëindigd."))
    return redirect("backoffice:staff")
