"""Ending a subscription: one confirmation flow for the portal and the back office."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kluis.accounts.http import current_user
from kluis.formats import long_date
from kluis.policy.enforce import Actor
from kluis.shop import domains, forms, services
from kluis.shop.models import Subscription


def subscription_end_page(
    request: HttpRequest, subscription: Subscription, *, area: str, ended_message: str
) -> HttpResponse:
    """The confirmation page (GET), and ending the subscription once confirmed (POST).

    `area` is "portal" or "backoffice": where the list and template live;
    `ended_message` has a `%(date)s` for the last day the service runs.
    """
    back = f"shop_{area}:subscriptions"
    form = forms.SubscriptionEndForm(request.POST if request.method == "POST" else None)
    if subscription.is_ending:
        messages.info(request, _("Dit abonnement is al opgezegd."))
        return redirect(back)
    if request.method == "POST" and form.is_valid():
        try:
            ended = services.subscription_end(subscription=subscription, by=current_user(request))
        except services.ShopError as exc:
            if exc.code == "over_credited":
                messages.error(
                    request,
                    _(
                        "Op de factuur van deze periode staat al zoveel gecrediteerd dat er niet "
                        "nog meer af kan; het abonnement is niet opgezegd. Neem contact met ons "
                        "op, dan regelen we het."
                    ),
                )
            elif exc.code == "not_credited":
                messages.error(
                    request,
                    _(
                        "We konden de factuur nu niet crediteren; het abonnement is niet "
                        "opgezegd. Neem contact met ons op, dan regelen we het."
                    ),
                )
            else:
                messages.info(request, _("Dit abonnement is al opgezegd."))
            return redirect(back)
        assert ended.ends_on is not None
        messages.success(request, ended_message % {"date": long_date(ended.ends_on)})
        return redirect(back)
    language = get_language() or "nl"
    if area == "portal":
        [(_same, name)] = domains.subscription_names(
            [subscription],
            language,
            purpose="contract_administration",
            actor=Actor.subject(subscription.customer_id),
        )
    else:
        [(_same, name)] = domains.masked_subscription_names([subscription], language)
    return render(
        request,
        f"shop/{area}/subscription_end.html",
        {
            "subscription": subscription,
            "name": name,
            "form": form,
            "ends_on": services.subscription_end_date(subscription),
            "consumer": subscription.line.order.consumer,
        },
        status=400 if request.method == "POST" else 200,
    )
