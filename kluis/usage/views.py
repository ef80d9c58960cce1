"""Usage statistics in the portal (the customer's sites and mailboxes) and the back
office (support, audited)."""

from __future__ import annotations

import csv
import io
import uuid

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis.accounts.decorators import customer_required, staff_required
from kluis.accounts.http import current_user
from kluis.accounts.models import Customer
from kluis.audit.chain import audit_append
from kluis.policy.enforce import Actor
from kluis.shop.models import Subscription
from kluis.sites.models import Site
from kluis.usage import mailboxes, selectors
from kluis.usage.chart import days_chart
from kluis.usage.models import Mailbox
from kluis.usage.store import MAIL_FIELDS
from kluis.vault.reveal import reveal_many

STAFF_ROLES = ("support",)


def _customer(request: HttpRequest) -> Customer:
    customer = current_user(request).customer
    assert customer is not None
    return customer


def _own_site(request: HttpRequest, site_id: int) -> Site:
    site = Site.objects.filter(pk=site_id, customer=_customer(request)).first()
    if site is None:
        raise Http404
    return site


def _size(value: int) -> str:
    return str(filesizeformat(value))


def _site_context(site: Site) -> dict[str, object]:
    days = selectors.site_days(site.pk)
    return {
        "site": site,
        "days": list(reversed(days)),
        "charts": [
            days_chart(days, key="requests", title=_("Verzoeken per dag"), colour="#0072b2"),
            days_chart(days, key="visitors", title=_("Bezoekers per dag"), colour="#009e73"),
            days_chart(
                days,
                key="bytes",
                title=_("Verstuurde gegevens per dag"),
                colour="#d55e00",
                label=_size,
            ),
        ],
        "pages": selectors.top_pages(site.pk),
    }


def _mailboxes(customer_id: uuid.UUID) -> list[tuple[Mailbox, dict[str, int]]]:
    boxes = list(Mailbox.objects.filter(customer_id=customer_id))
    totals = selectors.mailbox_totals([b.pk for b in boxes])
    return [(b, totals.get(b.pk, {})) for b in boxes]


@never_cache
@customer_required
def site(request: HttpRequest, site_id: int) -> HttpResponse:
    return render(request, "usage/portal/site.html", _site_context(_own_site(request, site_id)))


@never_cache
@customer_required
def site_csv(request: HttpRequest, site_id: int) -> HttpResponse:
    found = _own_site(request, site_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "requests", "visitors", "bytes", "errors", "final"])
    for d in selectors.site_days(found.pk):
        writer.writerow([d.day.isoformat(), d.requests, d.visitors, d.bytes, d.errors, d.closed])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="site-{found.pk}-usage.csv"'
    return response


class MailboxForm(forms.Form):
    address = forms.CharField(
        label=gettext_lazy("Nieuw e-mailadres"),
        help_text=gettext_lazy(
            "Onder een domeinnaam die je bij ons hebt, zoals info@jouwdomein.nl."
        ),
        max_length=254,
    )


def _mail_page(
    request: HttpRequest, failed: tuple[int, MailboxForm] | None = None, status: int = 200
) -> HttpResponse:
    customer = _customer(request)
    mailboxes.mailboxes_sync()
    boxes = _mailboxes(customer.pk)
    plain = reveal_many(
        [b for b, _t in boxes],
        ["address"],
        purpose="mail_traffic",
        actor=Actor.subject(customer.pk),
    )
    rows = [
        (box, p["address"], totals, selectors.mailbox_days(box.pk)[:14])
        for (box, totals), p in zip(boxes, plain, strict=True)
    ]
    language = translation.get_language() or "nl"
    packages = [
        {
            "package": package,
            "name": package.subscription.name(language),
            "form": failed[1]
            if failed and failed[0] == package.subscription.pk
            else MailboxForm(auto_id=f"id_%s_{package.subscription.pk}"),
        }
        for package in mailboxes.packages_of(customer)
    ]
    # A form for a package not (or no longer) shown: its error goes at the top.
    shown = {package.subscription.pk for package in mailboxes.packages_of(customer)}
    lost = failed[1] if failed and failed[0] not in shown else None
    return render(
        request,
        "usage/portal/mail.html",
        {"rows": rows, "packages": packages, "lost": lost},
        status=status,
    )


@never_cache
@customer_required
def mail(request: HttpRequest) -> HttpResponse:
    return _mail_page(request)


@require_POST
@customer_required
def mailbox_add(request: HttpRequest, subscription_id: int) -> HttpResponse:
    customer = _customer(request)
    if not Subscription.objects.filter(pk=subscription_id, customer=customer).exists():
        raise Http404
    form = MailboxForm(request.POST, auto_id=f"id_%s_{subscription_id}")
    if form.is_valid():
        try:
            mailboxes.mailbox_add(
                customer,
                subscription_id,
                form.cleaned_data["address"],
                actor=current_user(request).actor().ref,
            )
        except mailboxes.MailboxError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("De mailbox is toegevoegd."))
            return redirect("usage_portal:mail")
    return _mail_page(request, (subscription_id, form), status=400)


@require_POST
@customer_required
def mailbox_remove(request: HttpRequest, mailbox_id: uuid.UUID) -> HttpResponse:
    customer = _customer(request)
    if not Mailbox.objects.filter(pk=mailbox_id, customer=customer).exists():
        raise Http404
    try:
        mailboxes.mailbox_remove(customer, mailbox_id, actor=current_user(request).actor().ref)
    except mailboxes.MailboxError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("De mailbox is verwijderd."))
    return redirect("usage_portal:mail")


@never_cache
@customer_required
def mail_csv(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    boxes = list(Mailbox.objects.filter(customer=customer))
    plain = reveal_many(
        boxes, ["address"], purpose="mail_traffic", actor=Actor.subject(customer.pk)
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["mailbox", "date", *MAIL_FIELDS])
    for box, p in zip(boxes, plain, strict=True):
        for d in reversed(selectors.mailbox_days(box.pk)):
            writer.writerow(
                [
                    p["address"],
                    d.day.isoformat(),
                    d.received,
                    d.received_bytes,
                    d.sent,
                    d.sent_bytes,
                    d.recipients,
                    d.deferred,
                    d.bounced,
                ]
            )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="mail-usage.csv"'
    return response


@never_cache
@staff_required(*STAFF_ROLES)
def backoffice_site(request: HttpRequest, site_id: int) -> HttpResponse:
    found = Site.objects.filter(pk=site_id).first()
    if found is None:
        raise Http404
    audit_append(
        action="usage.statistics_viewed",
        actor=current_user(request).actor().ref,
        subject=found.customer_id,
        data={"site": found.pk},
    )
    context = _site_context(found)
    context["mailboxes"] = _mailboxes(found.customer_id)
    return render(request, "usage/backoffice/site.html", context)
