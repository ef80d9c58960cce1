"""A customer's mailboxes in the back office, for support: how many, in which package,
running or ended; the address only by a reveal for a purpose (audited by the vault,
and the customer sees it in their copy); ending one at the customer's request."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis.accounts.decorators import staff_required
from kluis.accounts.forms import RevealForm
from kluis.accounts.http import current_user
from kluis.accounts.models import Customer
from kluis.accounts.selectors import customer_open_cases, staff_purposes
from kluis.usage import mailboxes
from kluis.usage.models import Mailbox
from kluis.vault.errors import KeyShredded, RevealRefused
from kluis.vault.fields import SealedField

STAFF_ROLES = ("support",)


class MailboxRevealForm(RevealForm):
    """Which mailbox value (its address), for which declared purpose and case."""

    model = Mailbox


class MailboxEndForm(forms.Form):
    on_request = forms.BooleanField(
        label=gettext_lazy("De klant heeft hierom gevraagd"),
        error_messages={
            "required": gettext_lazy(
                "Beëindig een mailbox alleen als de klant daarom heeft gevraagd."
            )
        },
    )


def _customer(customer_id: uuid.UUID) -> Customer:
    found = Customer.objects.filter(pk=customer_id).first()
    if found is None:
        raise Http404
    return found


def _mailbox(customer_id: uuid.UUID, mailbox_id: uuid.UUID) -> tuple[Customer, Mailbox]:
    """The customer and their mailbox; another customer's mailbox, or none, is not found."""
    customer = _customer(customer_id)
    box = Mailbox.objects.filter(pk=mailbox_id, customer=customer).first()
    if box is None:
        raise Http404
    return customer, box


def _page(
    request: HttpRequest,
    customer: Customer,
    *,
    asked: uuid.UUID | None = None,
    form: forms.Form | None = None,
    plain: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """The page; the row of `asked` keeps the form just sent and, if allowed, its address."""
    field = Mailbox._meta.get_field("address")
    assert isinstance(field, SealedField)
    purposes = staff_purposes(current_user(request), field.category)
    cases = customer_open_cases(customer)
    language = translation.get_language() or "nl"
    boxes = list(Mailbox.objects.filter(customer=customer).select_related("subscription__product"))
    rows = []
    for number, box in enumerate(boxes, start=1):
        mine = box.pk == asked
        reveal = form if mine and isinstance(form, MailboxRevealForm) else MailboxRevealForm()
        reveal.as_row("address", purposes, cases)
        reveal.auto_id = f"reveal-{box.pk}-%s"  # ids unique per mailbox, not per field
        end = form if mine and isinstance(form, MailboxEndForm) else MailboxEndForm()
        end.auto_id = f"end-{box.pk}-%s"
        rows.append(
            {
                "box": box,
                "number": number,
                "package": box.subscription.name(language) if box.subscription else "",
                "plain": plain if mine else None,
                "reveal_form": reveal,
                "end_form": end,
            }
        )
    context = {
        "customer": customer,
        "rows": rows,
        "running": sum(1 for box in boxes if box.ended_at is None),
        "may_reveal": bool(purposes),
        "errors": form is not None and bool(form.errors),
        "form": form,
    }
    return render(request, "usage/backoffice/mailboxes.html", context, status=status)


@never_cache
@staff_required(*STAFF_ROLES)
def customer_mailboxes(request: HttpRequest, customer_id: uuid.UUID) -> HttpResponse:
    return _page(request, _customer(customer_id))


@never_cache
@require_POST
@staff_required(*STAFF_ROLES)
def mailbox_reveal(
    request: HttpRequest, customer_id: uuid.UUID, mailbox_id: uuid.UUID
) -> HttpResponse:
    customer, box = _mailbox(customer_id, mailbox_id)
    form = MailboxRevealForm(request.POST)
    if not form.is_valid():
        return _page(request, customer, asked=box.pk, form=form, status=400)
    try:
        plain = box.address.reveal(
            purpose=form.cleaned_data["purpose"],
            actor=current_user(request).actor(),
            case=form.cleaned_data["case"],
        )
    except RevealRefused as refusal:
        form.add_error(None, _("Niet toegestaan: %(reason)s") % {"reason": refusal})
        return _page(request, customer, asked=box.pk, form=form)
    except KeyShredded:
        # The customer was erased: the address went with their key.
        form.add_error(None, _("Dit adres is gewist, met de gegevens van de klant."))
        return _page(request, customer, asked=box.pk, form=form)
    return _page(request, customer, asked=box.pk, form=form, plain=plain)


@require_POST
@staff_required(*STAFF_ROLES)
def mailbox_end(
    request: HttpRequest, customer_id: uuid.UUID, mailbox_id: uuid.UUID
) -> HttpResponse:
    customer, box = _mailbox(customer_id, mailbox_id)
    form = MailboxEndForm(request.POST)
    if form.is_valid():
        try:
            _box, mailed = mailboxes.mailbox_end_on_request(
                customer, box.pk, actor=current_user(request).actor().ref
            )
        except mailboxes.MailboxError as exc:
            form.add_error(None, str(exc))
        else:
            if mailed:
                messages.success(request, _("De mailbox is beëindigd; de klant krijgt een e-mail."))
            else:
                messages.warning(
                    request,
                    _(
                        "De mailbox is beëindigd, maar de klant krijgt er geen e-mail over: "
                        "de klant heeft de verwerking van zijn gegevens laten beperken "
                        "(art. 18 AVG). Bevestig het de klant via het kanaal waarop het "
                        "verzoek kwam."
                    ),
                )
            return redirect("usage_backoffice:mailboxes", customer_id=customer.pk)
    return _page(request, customer, asked=box.pk, form=form, status=400)
