"""The public site: home, the contact form and the cookie choice."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from kluis.accounts.http import client_address
from kluis.policy.loader import current_policy
from kluis.web import forms, services
from kluis.web.consent import consent_from, set_consent


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")


@require_http_methods(["GET", "POST"])
def contact(request: HttpRequest) -> HttpResponse:
    form = forms.ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.question_submit(
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                message=form.cleaned_data["message"],
                language=translation.get_language() or "nl",
                client_address=client_address(request),
            )
        except services.Throttled:
            form.add_error(
                None,
                _("Je hebt net al een paar vragen gestuurd. Probeer het over een uur opnieuw."),
            )
            return render(request, "web/contact.html", {"form": form}, status=429)
        return redirect("web:contact-sent")
    return render(request, "web/contact.html", {"form": form})


def contact_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "web/contact_sent.html")


def _safe_next(request: HttpRequest, target: str) -> str:
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url("web:cookies")


@require_http_methods(["GET", "POST"])
def cookies(request: HttpRequest) -> HttpResponse:
    """The cookie choice: shown and changed here, recorded by the banner's form too."""
    if request.method == "POST":
        form = forms.ConsentForm(request.POST)
        if not form.is_valid():
            return render(request, "web/cookies.html", _cookie_context(request), status=400)
        response = HttpResponseRedirect(_safe_next(request, form.cleaned_data["next"]))
        set_consent(response, statistics=form.cleaned_data["statistics"] == "yes")
        return response
    return render(request, "web/cookies.html", _cookie_context(request))


def _cookie_context(request: HttpRequest) -> dict[str, object]:
    language = translation.get_language() or "nl"
    declared = [
        {
            "name": c.name,
            "label": c.label.get(language),
            "stores": c.stores.get(language),
            "lifetime": c.lifetime.get(language),
            "needs_consent": c.needs_consent,
        }
        for c in current_policy().cookies
    ]
    return {"consent": consent_from(request), "cookies": declared}
