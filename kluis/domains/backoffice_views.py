"""The domains desk (orders role): registrations that failed, were refused or wait."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis.accounts.decorators import staff_required
from kluis.accounts.http import current_user
from kluis.domains import late_payments, selectors, services, shop_link
from kluis.domains.models import DomainRegistration


@never_cache
@staff_required("orders")
def desk(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "domains/backoffice/desk.html",
        {
            "rows": selectors.desk_rows(),
            "renewals": selectors.renewal_rows(),
            "ending": selectors.ending_rows(),
            "messages_in": selectors.recent_poll_messages(),
            "late": [
                (late, shop_link.domain_masked(late.registration.line))
                for late in late_payments.late_payments()
            ],
        },
    )


@require_POST
@staff_required("orders")
def retry(request: HttpRequest, registration_id: int) -> HttpResponse:
    registration = get_object_or_404(DomainRegistration, pk=registration_id)
    if not registration.can_retry:
        messages.error(request, _("Alleen een mislukte registratie kan opnieuw."))
        return redirect("domains_backoffice:desk")
    services.registration_retry(registration=registration, by=current_user(request))
    messages.success(request, _("De registratie staat weer in de wachtrij."))
    return redirect("domains_backoffice:desk")
