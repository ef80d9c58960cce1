"""The customer's own domains: status, expiry, nameservers, and the auth code."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis.accounts.decorators import customer_required
from kluis.accounts.http import current_user
from kluis.accounts.models import Customer
from kluis.domains import lifecycle, shop_link
from kluis.domains.models import DomainRegistration
from kluis.domains.registries import REGISTRIES
from kluis.policy.enforce import Actor

PURPOSE = "contract_administration"


class NameserversForm(forms.Form):
    nameservers = forms.CharField(
        label=gettext_lazy("Naamservers"),
        help_text=gettext_lazy("Eén per regel, minstens twee, zoals ns1.voorbeeld.nl."),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
    )

    def clean_nameservers(self) -> list[str]:
        try:
            return lifecycle.nameservers_clean(str(self.cleaned_data["nameservers"]))
        except lifecycle.DomainActionError as exc:
            raise forms.ValidationError(str(exc)) from None


def _customer(request: HttpRequest) -> Customer:
    customer = current_user(request).customer
    assert customer is not None
    return customer


def _names(customer: Customer, registrations: list[DomainRegistration]) -> list[str]:
    lines = [r.line for r in registrations]
    return shop_link.domains_shown(lines, purpose=PURPOSE, actor=Actor.subject(customer.id))


@never_cache
@customer_required
def domains(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    registrations = list(
        DomainRegistration.objects.filter(order__customer=customer)
        .exclude(status=DomainRegistration.Status.REFUSED)
        .select_related("order", "line")
        .order_by("-created_at")
    )
    rows = [
        {
            "registration": r,
            "domain": name,
            "registry": REGISTRIES[r.registry].name if r.registry in REGISTRIES else "—",
        }
        for r, name in zip(registrations, _names(customer, registrations), strict=True)
    ]
    return render(request, "domains/portal/domains.html", {"rows": rows})


def _registration(request: HttpRequest, registration_id: int) -> DomainRegistration:
    registration = lifecycle.domain_of_customer(_customer(request), registration_id)
    if registration is None:
        raise Http404
    return registration


def _domain_page(
    request: HttpRequest, registration: DomainRegistration, form: NameserversForm | None = None
) -> HttpResponse:
    (name,) = _names(registration.order.customer, [registration])
    initial = {"nameservers": "\n".join(registration.nameservers)}
    return render(
        request,
        "domains/portal/domain.html",
        {
            "registration": registration,
            "domain": name,
            "registry": REGISTRIES[registration.registry],
            "form": form or NameserversForm(initial=initial),
        },
    )


@never_cache
@customer_required
def domain(request: HttpRequest, registration_id: int) -> HttpResponse:
    return _domain_page(request, _registration(request, registration_id))


@require_POST
@customer_required
def nameservers(request: HttpRequest, registration_id: int) -> HttpResponse:
    registration = _registration(request, registration_id)
    form = NameserversForm(request.POST)
    if not form.is_valid():
        return _domain_page(request, registration, form)
    try:
        lifecycle.nameservers_change(
            registration=registration,
            nameservers=form.cleaned_data["nameservers"],
            by=current_user(request),
        )
    except lifecycle.DomainActionError as exc:
        form.add_error(None, str(exc))
        return _domain_page(request, registration, form)
    messages.success(request, _("De naamservers zijn gewijzigd bij de registry."))
    return redirect("domains_portal:domain", registration_id=registration.pk)


@require_POST
@customer_required
def auth_code(request: HttpRequest, registration_id: int) -> HttpResponse:
    registration = _registration(request, registration_id)
    try:
        lifecycle.auth_code_request(registration=registration, by=current_user(request))
    except lifecycle.DomainActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _(
                "We mailen de verhuiscode naar het e-mailadres van je account. Een eerdere code "
                "werkt niet meer."
            ),
        )
    return redirect("domains_portal:domain", registration_id=registration.pk)
