"""The back office of the shop: orders (orders role) and the catalogue (orders, admin)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.db.models import Count, Exists, OuterRef
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis.accounts.decorators import staff_required
from kluis.accounts.http import current_user
from kluis.policy.cases import Case
from kluis.shop import domains, forms, pricing, selectors, services
from kluis.shop.models import DomainExtension, Order, Product, Subscription
from kluis.shop.subscription_pages import subscription_end_page
from kluis.vault.errors import KeyShredded, RevealRefused

ORDER_ROLES = ("orders",)
FINANCE_ROLES = ("finance",)
CATALOGUE_ROLES = ("orders", "admin")


MOVE_REFUSED = {
    "waits_for_vies": _lazy("Deze bestelling wacht op de VIES-controle van het btw-nummer."),
    "illegal_move": _lazy("Deze statuswijziging is niet toegestaan."),
    "withdrawal_period": _lazy(
        "Deze consument heeft niet gevraagd direct te beginnen: opleveren kan pas na de "
        "herroepingstermijn."
    ),
    "awaiting_owner": _lazy(
        "Deze bestelling is zonder inloggen geplaatst met het adres van een bestaand account; "
        "ze wacht tot de accounthouder haar bevestigt."
    ),
    "not_invoiced": _lazy(
        "De factuur van deze bestelling kon niet worden gemaakt; de status is niet gewijzigd."
    ),
    "not_credited": _lazy(
        "De factuur van deze bestelling kon niet worden gecrediteerd; de status is niet gewijzigd."
    ),
}


def _order(order_id: uuid.UUID) -> Order:
    order = selectors.order_for_staff(order_id)
    if order is None:
        raise Http404
    return order


@never_cache
@staff_required(*ORDER_ROLES)
def orders(request: HttpRequest) -> HttpResponse:
    form = forms.OrderFilterForm(request.GET or None, auto_id="status-filter-%s")
    status = form.cleaned_data["status"] if form.is_valid() else ""
    from kluis.billing.models import Chargeback

    found = Order.objects.select_related("customer").annotate(
        # A payment of its invoice that the payer's bank took back (not withdrawn).
        charged_back=Exists(
            Chargeback.objects.filter(
                invoice__order=OuterRef("pk"), status=Chargeback.Status.RECEIVED
            )
        )
    )
    if status in Order.Status.values:
        found = found.filter(status=status)
    return render(request, "shop/backoffice/orders.html", {"orders": found[:200], "form": form})


def _order_page(
    request: HttpRequest, order: Order, form: forms.MoveForm, status: int = 200
) -> HttpResponse:
    staff = current_user(request)
    # Handling the order is what the notes are read for, so the order is the case; the
    # read is audited. A delivered or cancelled order is no longer a case: its notes
    # stay sealed (the refusal is audited too).
    notes: str | None = ""
    if order.notes:
        try:
            notes = order.notes.reveal(
                purpose="contract_administration",
                actor=staff.actor(),
                case=Case("order", str(order.pk)),
            )
        except KeyShredded:
            # The customer was erased: the notes went with their data.
            notes = _("gewist")
        except RevealRefused:
            notes = None
    # The domain names the same way: within the order's case, masked outside it.
    lines = list(order.lines.all())
    try:
        texts = domains.line_texts(
            lines,
            purpose="contract_administration",
            actor=staff.actor(),
            case=Case("order", str(order.pk)),
        )
    except RevealRefused:
        texts = domains.masked_line_texts(lines)
    return render(
        request,
        "shop/backoffice/order.html",
        {
            "order": order,
            "lines": texts,
            "notes": notes,
            "form": form,
            "acceptances": order.acceptances.all(),
            "vat_checks": order.vat_checks.all(),
            "has_extract": hasattr(order, "kvk_extract"),
            "chargebacks": _chargebacks(order),
        },
        status=status,
    )


def _chargebacks(order: Order) -> list[Any]:
    """What the payer's bank took back of the order's invoice (kluis/billing/chargebacks.py):
    the order stays as it is, its invoice is open again and in the reminders."""
    from kluis.billing.models import Chargeback

    return list(
        Chargeback.objects.filter(invoice__order=order)
        .select_related("invoice")
        .order_by("received_at", "pk")
    )


def _move_form(order: Order, data: object = None) -> forms.MoveForm:
    statuses = [(s, Order.Status(s).label) for s in order.next_statuses]
    return forms.MoveForm(data, statuses=statuses)


@never_cache
@staff_required(*ORDER_ROLES)
def order(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    found = _order(order_id)
    return _order_page(request, found, _move_form(found))


@require_POST
@staff_required(*ORDER_ROLES)
def order_move(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    found = _order(order_id)
    form = _move_form(found, request.POST)
    if not form.is_valid():
        return _order_page(request, found, form, status=400)
    try:
        services.order_move(order=found, to=form.cleaned_data["status"], by=current_user(request))
    except services.ShopError as exc:
        form.add_error(None, MOVE_REFUSED.get(exc.code, MOVE_REFUSED["illegal_move"]))
        return _order_page(request, found, form, status=400)
    messages.success(request, _("De status is gewijzigd en de klant krijgt een e-mail."))
    return redirect("shop_backoffice:order", order_id=found.pk)


def _vat_page(
    request: HttpRequest, forms_by_order: dict[uuid.UUID, forms.VatCheckByHandForm], status: int
) -> HttpResponse:
    waiting = selectors.orders_waiting_for_vies()
    rows = [
        (order, forms_by_order.get(order.pk) or forms.VatCheckByHandForm()) for order in waiting
    ]
    return render(request, "shop/backoffice/vat_checks.html", {"rows": rows}, status=status)


@never_cache
@staff_required(*FINANCE_ROLES)
def vat_checks(request: HttpRequest) -> HttpResponse:
    """Orders whose VAT waits on VIES, with what VIES said in words, and a check by hand."""
    return _vat_page(request, {}, 200)


@require_POST
@staff_required(*FINANCE_ROLES)
def vat_check_by_hand(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    found = _order(order_id)
    form = forms.VatCheckByHandForm(request.POST)
    if not form.is_valid():
        return _vat_page(request, {found.pk: form}, 400)
    try:
        services.order_vat_check_by_hand(
            order=found,
            valid=form.cleaned_data["valid"],
            method=form.cleaned_data["method"],
            by=current_user(request),
        )
    except services.ShopError:
        messages.info(request, _("Deze bestelling wacht niet meer op VIES."))
    else:
        messages.success(
            request,
            _("De controle is vastgelegd; bestelling %(number)s wacht niet meer op VIES.")
            % {"number": found.number},
        )
    return redirect("shop_backoffice:vat-checks")


@never_cache
@staff_required(*CATALOGUE_ROLES)
def catalogue(request: HttpRequest) -> HttpResponse:
    form = forms.ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Het pakket is toegevoegd."))
        return redirect("shop_backoffice:catalogue")
    return render(
        request,
        "shop/backoffice/catalogue.html",
        {
            # Today's prices, also when the daily job has not yet written a new one in.
            "products": pricing.with_prices_of_day(list(Product.objects.all())),
            "extensions": pricing.with_prices_of_day(list(DomainExtension.objects.all())),
            "form": form,
        },
        status=400 if request.method == "POST" else 200,
    )


@never_cache
@staff_required(*CATALOGUE_ROLES)
def product(request: HttpRequest, product_id: int) -> HttpResponse:
    found = get_object_or_404(Product, pk=product_id)
    form = forms.ProductEditForm(request.POST or None, instance=found)
    return _edit(request, form, found, _("Het pakket is bijgewerkt."))


@never_cache
@staff_required(*CATALOGUE_ROLES)
def extension(request: HttpRequest, extension_id: int) -> HttpResponse:
    found = get_object_or_404(DomainExtension, pk=extension_id)
    form = forms.ExtensionForm(request.POST or None, instance=found)
    return _edit(request, form, found, _("De extensie is bijgewerkt."))


PRICE_REFUSED = {
    "in_the_past": _lazy("Een nieuwe prijs kan niet ingaan op een dag die al voorbij is."),
    "before_scheduled": _lazy(
        "Er is al een prijswijziging gepland na deze dag; plan de nieuwe prijs op of na die dag."
    ),
    "same_price": _lazy("Dit is de prijs die al geldt of gepland is."),
}


@never_cache
@require_POST
@staff_required(*CATALOGUE_ROLES)
def product_price(request: HttpRequest, product_id: int) -> HttpResponse:
    return _price_change(request, get_object_or_404(Product, pk=product_id))


@never_cache
@require_POST
@staff_required(*CATALOGUE_ROLES)
def extension_price(request: HttpRequest, extension_id: int) -> HttpResponse:
    return _price_change(request, get_object_or_404(DomainExtension, pk=extension_id))


def _price_change(request: HttpRequest, item: Product | DomainExtension) -> HttpResponse:
    """Schedule a new price for a catalogue item, or show the page again with the reason."""
    form = forms.PriceChangeForm(request.POST)
    if form.is_valid():
        try:
            done = pricing.price_change_schedule(
                item=item,
                new_price_cents=form.new_price_cents,
                effective_on=form.cleaned_data["effective_on"],
                by=current_user(request),
            )
        except pricing.PriceChangeError as exc:
            form.add_error(None, PRICE_REFUSED[exc.code])
        else:
            messages.success(
                request,
                ngettext(
                    "De nieuwe prijs is gepland; %(count)d abonnee heeft nu een e-mail gekregen.",
                    "De nieuwe prijs is gepland; %(count)d abonnees hebben nu een e-mail gekregen.",
                    done.notified,
                )
                % {"count": done.notified},
            )
            if isinstance(item, Product):
                return redirect("shop_backoffice:product", product_id=item.pk)
            return redirect("shop_backoffice:extension", extension_id=item.pk)
    edit: ModelForm[Any] = (
        forms.ProductEditForm(instance=item)
        if isinstance(item, Product)
        else forms.ExtensionForm(instance=item)
    )
    return _edit(request, edit, item, "", price_form=form)


def _edit(
    request: HttpRequest,
    form: ModelForm[Any],
    item: Product | DomainExtension,
    done: str,
    *,
    price_form: forms.PriceChangeForm | None = None,
) -> HttpResponse:
    """Save a catalogue item's form, or show it again with its errors and its prices."""
    if price_form is None and request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, done)
        return redirect("shop_backoffice:catalogue")
    failed = request.method == "POST"
    return render(
        request,
        "shop/backoffice/edit.html",
        {
            "form": form,
            "item": item,
            "price": pricing.catalogue_price_cents(item),
            "price_form": price_form or forms.PriceChangeForm(),
            "price_action": "product-price" if isinstance(item, Product) else "extension-price",
            "changes": item.price_changes.annotate(told=Count("notices")).order_by(
                "-effective_on", "-pk"
            ),
            "running": pricing.affected_subscriptions(item),
        },
        status=400 if failed else 200,
    )


@never_cache
@staff_required(*ORDER_ROLES)
def subscriptions(request: HttpRequest) -> HttpResponse:
    found = Subscription.objects.select_related("customer", "product", "extension", "line__order")
    if request.GET.get("running"):
        found = found.renewing()
    search = forms.DomainSearchForm(request.GET or None)
    valid = search.is_valid() if request.GET else True
    if valid and search.is_bound and search.cleaned_data["domein"]:
        index = services.domain_lookup(
            domain=search.cleaned_data["domein"], by=current_user(request)
        )
        found = found.filter(domain_name__name_index=index)
    listed = list(found.order_by("period_end", "id")[:200]) if valid else []
    return render(
        request,
        "shop/backoffice/subscriptions.html",
        {
            "subscriptions": domains.masked_subscription_names(listed, get_language() or "nl"),
            "running": bool(request.GET.get("running")),
            "search": search,
            "today": timezone.localdate(),
        },
        status=200 if valid else 400,
    )


@never_cache
@staff_required(*ORDER_ROLES)
def subscription_end(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """The confirmation page (GET), and ending the subscription once confirmed (POST)."""
    found = selectors.subscription_for_staff(subscription_id)
    if found is None:
        raise Http404
    return subscription_end_page(
        request,
        found,
        area="backoffice",
        ended_message=_("Het abonnement is opgezegd; de dienst loopt nog tot en met %(date)s."),
    )
