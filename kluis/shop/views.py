"""The public shop: catalogue, cart, checkout and the confirmation page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis.accounts.http import client_address
from kluis.accounts.models import Customer, User
from kluis.shop import availability, consumer, documents, forms, services, withdrawal
from kluis.shop import cart as carts
from kluis.shop import checkout as checkout_input
from kluis.shop.domains import registries_named, registry_named
from kluis.shop.models import DomainExtension, KvkExtract, Order, Product
from kluis.shop.prices import price_display, price_display_choose
from kluis.shop.pricing import with_prices_of_day

LAST_ORDER = "kluis_shop_last_order"

ERRORS = {
    "empty_cart": gettext_lazy("Je winkelmandje is leeg."),
    "not_accepted": gettext_lazy(
        "Accepteer de overeenkomst en de verwerkersovereenkomst om te bestellen."
    ),
    "no_consent": gettext_lazy(
        "Zonder je toestemming kunnen we een domeinnaam bij een registry buiten de EU niet "
        "registreren."
    ),
    "already_ordered": gettext_lazy(
        "Dit winkelmandje is al besteld. Je bestelling staat in je klantportaal; er is geen "
        "tweede bestelling gemaakt."
    ),
    # Only for a staff address (staff do not order); a customer's address is answered
    # as a new one, and its order waits for the account's owner (no account oracle).
    "account_exists": gettext_lazy(
        "Er is al een account met dit e-mailadres. We hebben je een e-mail gestuurd; log in en "
        "rond daarna je bestelling af."
    ),
    "kvk_extract": gettext_lazy(
        "Het uittreksel van de KvK kunnen we niet aannemen. Upload het opnieuw als PDF, PNG of "
        "JPEG."
    ),
    "throttled": gettext_lazy(
        "Te veel bestellingen vanaf dit adres. Probeer het over een uur opnieuw."
    ),
}


def _error(code: str) -> str:
    return str(ERRORS[code])


def _customer(request: HttpRequest) -> Customer | None:
    user = request.user
    if isinstance(user, User) and not user.is_staff_member and user.customer is not None:
        return user.customer
    return None


def catalogue(request: HttpRequest) -> HttpResponse:
    return _catalogue_page(request, forms.AddDomainForm())


def _catalogue_page(request: HttpRequest, domain_form: forms.AddDomainForm) -> HttpResponse:
    return render(
        request,
        "shop/catalogue.html",
        {
            "webshops": with_prices_of_day(
                list(Product.objects.filter(active=True, kind=Product.Kind.WEBSHOP))
            ),
            "websites": with_prices_of_day(
                list(Product.objects.filter(active=True, kind=Product.Kind.WEBSITE))
            ),
            "extensions": with_prices_of_day(list(DomainExtension.objects.filter(active=True))),
            "domain_form": domain_form,
            "language": translation.get_language() or "nl",
            "prices": price_display(request),
        },
    )


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    product = forms.AddProductForm(request.POST)
    if product.is_valid():
        carts.cart_add_product(request.session, product.cleaned_data["product"])
        return redirect("shop:cart")
    messages.error(request, _("Dit pakket bestaat niet (meer)."))
    return redirect("shop:catalogue")


@require_POST
def cart_add_domain(request: HttpRequest) -> HttpResponse:
    """A name goes into the cart once its registry said it is free (or was not asked).

    A name that is taken or not possible is answered on the catalogue page itself,
    and nothing goes into the cart.
    """
    form = forms.AddDomainForm(request.POST)
    if form.is_valid():
        domain = form.domain
        answer = availability.domain_check(domain, client_address(request))
        code = form.cleaned_data.get("auth_code") or ""
        desk = availability.transfers()
        if answer.verdict == availability.Verdict.TAKEN and code and desk is not None:
            try:
                code = desk.clean(domain, code)
            except availability.TransferRefused as exc:
                form.add_error("auth_code", str(exc))
                return _catalogue_page(request, form)
            carts.cart_add_domain(request.session, domain, auth_code=code)
            messages.success(
                request,
                _(
                    "%(domain)s staat als verhuizing in je winkelmandje. Na je bestelling vragen "
                    "we de verhuizing aan met je verhuiscode; je huidige provider moet haar "
                    "nog goedkeuren."
                )
                % {"domain": forms.domain_shown(domain)},
            )
            return redirect("shop:cart")
        if answer.verdict in availability.INTO_CART:
            carts.cart_add_domain(request.session, domain)
            if answer.verdict == availability.Verdict.UNCHECKED:
                messages.warning(request, _(DOMAIN_UNCHECKED))
            return redirect("shop:cart")
        form.add_error("label", _domain_refusal(answer, forms.domain_shown(domain)))
        return _catalogue_page(request, form)
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))
    return redirect("shop:catalogue")


DOMAIN_UNCHECKED = gettext_noop(
    "We konden de registry nu niet vragen of je domeinnaam vrij is. De naam staat in je "
    "winkelmandje; we controleren het bij de registratie en mailen je als hij toch bezet is."
)


def _domain_refusal(answer: availability.Answer, domain: str) -> str:
    shown = {"domain": domain}
    if answer.verdict == availability.Verdict.THROTTLED:
        minutes = max(1, -(-answer.seconds // 60))
        return ngettext(
            "Je hebt in korte tijd veel namen laten controleren. Probeer het over %(n)s minuut "
            "opnieuw.",
            "Je hebt in korte tijd veel namen laten controleren. Probeer het over %(n)s minuten "
            "opnieuw.",
            minutes,
        ) % {"n": minutes}
    if answer.verdict == availability.Verdict.TAKEN:
        return (
            _(
                "%(domain)s is al geregistreerd. Kies een andere naam of extensie. Is de naam van "
                "jou en wil je hem naar ons verhuizen? Vul dan ook de verhuiscode van je huidige "
                "provider in."
            )
            % shown
        )
    if answer.reason:
        return _("%(domain)s kan niet worden geregistreerd. De registry zegt: %(reason)s") % {
            **shown,
            "reason": answer.reason,
        }
    return _("%(domain)s kan niet worden geregistreerd.") % shown


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    form = forms.RemoveForm(request.POST)
    if form.is_valid():
        carts.cart_remove(request.session, form.cleaned_data["item"])
    return redirect("shop:cart")


@require_POST
def prices_choose(request: HttpRequest) -> HttpResponse:
    """The switch between prices incl. btw (consumers) and excl. btw (businesses)."""
    price_display_choose(request.session, request.POST.get("show", ""))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts=None):
        back = reverse("shop:catalogue")
    return redirect(back)


@never_cache
def cart(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "shop/cart.html",
        {
            "cart": carts.cart_get(request.session),
            "language": translation.get_language() or "nl",
            "prices": price_display(request),
        },
    )


def _checkout_form(
    request: HttpRequest, cart: carts.Cart, customer: Customer | None
) -> forms.CheckoutForm:
    asks_extract = (
        customer is None or not KvkExtract.objects.filter(order__customer=customer).exists()
    )
    return forms.CheckoutForm(
        request.POST or None,
        request.FILES or None,
        customer=customer,
        has_domains=bool(cart.domains),
        has_non_eu=bool(cart.non_eu_domains),
        non_eu_registries=registries_named(
            line.extension for line in cart.non_eu_domains if line.extension is not None
        ),
        asks_kvk_extract=asks_extract,
        initial={"token": cart.token},
    )


@never_cache
def checkout(request: HttpRequest) -> HttpResponse:
    cart = carts.cart_get(request.session)
    customer = _customer(request)
    if isinstance(request.user, User) and request.user.is_staff_member:
        raise Http404  # staff do not order for customers (no acting as a customer, R21)
    form = _checkout_form(request, cart, customer)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data["token"] != cart.token or cart.is_empty:
            form.add_error(
                None,
                _error("already_ordered" if not cart.is_empty or data["token"] else "empty_cart"),
            )
        else:
            try:
                order = services.order_place(**_order_input(request, cart, customer, data))
            except services.ShopError as exc:
                form.add_error(None, _error(exc.code))
            else:
                carts.cart_clear(request.session)
                request.session[LAST_ORDER] = str(order.pk)
                return redirect("shop:confirmation")
    language = translation.get_language() or "nl"
    language = language if language in documents.LANGUAGES else "nl"
    docs = [documents.current(k, language) for k in ("agreement", "processor_agreement")]
    notice = documents.current("whois_notice", language) if cart.non_eu_domains else None
    # Consumers (and new customers, until they say they order for a business) see the
    # withdrawal information and the request to start at once before the button.
    consumer_parts = customer is None or consumer.is_consumer(customer)
    start_request = documents.current("start_request", language)
    if "start_now" in form.fields:
        # The consumer ticks the very text of the document (kept with its hash).
        form.fields["start_now"].label = format_html(
            "<strong>{}:</strong> {}", start_request.title, start_request.body
        )
    return render(
        request,
        "shop/checkout.html",
        {
            "cart": cart,
            "form": form,
            "customer": customer,
            "documents": docs,
            "notice": notice,
            # Each domain outside the EU with the registry that would receive the data.
            "non_eu_lines": [
                (line.domain, registry_named(line.extension.tld, line.extension.registry))
                for line in cart.non_eu_domains
                if line.extension is not None
            ],
            "language": language,
            "consumer_parts": consumer_parts,
            "withdrawal_info": documents.current("withdrawal_info", language),
            "order_button": consumer.ORDER_BUTTON,
            "prices": price_display(request),
        },
        status=400 if request.method == "POST" else 200,
    )


def _order_input(
    request: HttpRequest, cart: carts.Cart, customer: Customer | None, data: dict[str, Any]
) -> dict[str, Any]:
    language = translation.get_language() or "nl"
    return checkout_input.order_input(
        cart=cart,
        customer=customer,
        data=data,
        language=language if language in documents.LANGUAGES else "nl",
        client_address=client_address(request),
    )


@never_cache
def confirmation(request: HttpRequest) -> HttpResponse:
    order_id = request.session.get(LAST_ORDER)
    order = Order.objects.filter(pk=order_id).first() if order_id else None
    if order is None:
        return redirect("shop:catalogue")
    return render(request, "shop/confirmation.html", {"order": order})


def document(request: HttpRequest, kind: str, version: str, lang: str) -> HttpResponse:
    try:
        doc = documents.document(kind, version, lang)
    except documents.UnknownDocument:
        raise Http404 from None
    return render(request, "shop/document.html", {"doc": doc})


# --- withdrawing without a log-in (kluis/shop/withdrawal.py) ----------------------------


@never_cache
def withdraw(request: HttpRequest) -> HttpResponse:
    """The public withdrawal form: the same answer whatever was typed."""
    form = forms.PublicWithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        withdrawal.withdrawal_request(
            order_number=form.cleaned_data["order_number"],
            email=form.cleaned_data["email"],
            client_address=client_address(request),
            language=(translation.get_language() or "nl")[:2],
        )
        return redirect("shop:withdraw-sent")
    return render(
        request,
        "shop/withdraw.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


def withdraw_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/withdraw_sent.html")


@never_cache
def withdraw_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link mailed to the order's address: GET shows, only the button's POST withdraws."""
    found = withdrawal.link_read(token)
    if found is None:
        return render(request, "shop/withdraw_link.html", {"state": "invalid"}, status=400)
    order, requested_at = found
    day = timezone.localdate(requested_at)
    if not consumer.can_withdraw(order, day):
        state = "withdrawn" if order.status == Order.Status.WITHDRAWN else "closed"
        return render(request, "shop/withdraw_link.html", {"state": state, "order": order})
    if request.method == "POST":
        try:
            services.order_withdraw_by_link(order=order, requested_at=requested_at)
        except services.ShopError:
            messages.error(
                request,
                _(
                    "We konden je herroeping nu niet verwerken. Neem contact met ons op, dan "
                    "regelen we het voor je. Je herroeping telt vanaf het moment van je bericht."
                ),
            )
        else:
            messages.success(
                request,
                _(
                    "Je hebt bestelling %(number)s herroepen. Je krijgt een bevestiging per "
                    "e-mail en een creditnota; wat je te veel betaalde, betalen we binnen 14 "
                    "dagen terug."
                )
                % {"number": order.number},
            )
        return redirect("shop:withdraw-link", token=token)
    return render(
        request,
        "shop/withdraw_link.html",
        {"state": "open", "order": order, "requested_at": requested_at},
    )
