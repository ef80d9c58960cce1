"""R21: no route, command or admin action lets staff act as a customer.

Two checks over the whole project: no URL name, route, view or management command
whose words suggest acting as someone else; and no view that, called by a logged-in
staff session (GET and POST), leaves the request or the session with a customer as
its user. The last tests show both checks fail on a project that has such a route.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY, login
from django.core.management import get_commands, load_command_class
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path, reverse

from kluis.accounts.models import User
from kluis.testing import ROUTES, STAFF_ROLES, Pattern, Personas, log_in, make_staff, url_patterns

pytestmark = pytest.mark.django_db(databases="__all__")

SUSPECT_WORDS = {
    "impersonate", "impersonation", "impersonating", "impersonator", "hijack", "hijacker",
    "masquerade", "sudo", "su", "become", "becomeuser", "loginas", "logas", "switchuser",
    "actas", "inloggenals", "aanmeldenals", "overnemen", "spoof",
}  # fmt: skip


def _words(text: str) -> list[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return re.findall(r"[a-z0-9]+", text.lower())


def suspicious(text: str) -> bool:
    """Whether the words of `text` (one, two or three at a time) suggest acting as another."""
    words = _words(text)
    runs = ["".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)]
    return any(run in SUSPECT_WORDS for run in runs)


def static_findings(patterns: list[Pattern], *, views: bool = True) -> list[str]:
    findings = []
    for p in patterns:
        view = f"{p.callback.__module__}.{getattr(p.callback, '__qualname__', '')}"
        for text in (p.name, p.route, view) if views else (p.name, p.route):
            if suspicious(text):
                findings.append(f"{p.describe()} ({view}): {text!r}")
    return findings


def _url(p: Pattern, personas: Personas) -> str | None:
    route = ROUTES.get(p.name)
    if p.arguments:
        if route is None or route.kwargs is None:
            return None  # the access-control harness fails for this pattern already
        return reverse(p.name, kwargs=route.kwargs(personas))
    return "/" + p.route.replace("^", "").replace("$", "")


def dynamic_findings(patterns: list[Pattern], personas: Personas) -> list[str]:
    """Call every view as a staff session; report any that makes a customer the user."""
    staff = make_staff(roles=list(STAFF_ROLES))
    customers = set(User.objects.filter(kind=User.Kind.CUSTOMER).values_list("pk", flat=True))
    findings = []
    for p in patterns:
        url = _url(p, personas)
        if url is None:
            continue
        route = ROUTES.get(p.name)
        for method in ("get", "post"):
            client = Client()
            log_in(client, staff)
            data = route.data(personas) if route and route.data and method == "post" else {}
            response = getattr(client, method)(url, data)
            seen = getattr(response.wsgi_request.user, "pk", None)
            session_user = client.session.get(SESSION_KEY)
            if seen in customers or (session_user and str(session_user) != str(staff.pk)):
                findings.append(f"{method.upper()} {p.describe()} made the user {seen}")
    return findings


def test_no_route_name_path_or_view_suggests_acting_as_a_customer():
    assert static_findings(url_patterns()) == []


def test_no_management_command_suggests_acting_as_a_customer():
    findings = []
    for name, app in get_commands().items():
        help_text = getattr(load_command_class(app, name), "help", "")
        if suspicious(name) or suspicious(help_text):
            findings.append(f"{app}: {name}")
    assert findings == []


def test_there_is_no_django_admin_and_so_no_admin_action():
    assert "django.contrib.admin" not in settings.INSTALLED_APPS
    views = [p.callback.__module__ for p in url_patterns()]
    assert not [v for v in views if v.startswith("django.contrib.admin")]


def test_no_view_called_by_a_staff_session_makes_a_customer_the_user(personas, request):
    # The domain routes' harness registers a domain at the local EPP registry.
    request.getfixturevalue("registries_local")
    assert dynamic_findings(url_patterns(), personas) == []


# --- the checks are honest: they catch a route that does it --------------------------


def _innocent_looking_help(request: HttpRequest) -> HttpResponse:
    customer = User.objects.filter(kind=User.Kind.CUSTOMER).first()
    assert customer is not None
    login(request, customer, backend="kluis.accounts.backends.BlindIndexEmailBackend")
    return HttpResponse("ok")


def _plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [
    path("hulp/", _innocent_looking_help, name="help"),
    path("klanten/inloggen-als/", _plain, name="customer-view"),
    path("staff/hijack/", _plain, name="tools"),
    path("switch/", _plain, name="switchUser"),
    path("support/", _plain, name="support"),
]


def test_the_word_check_catches_login_as_hijack_and_switch_user_but_not_support():
    # (This module's own name says "impersonation", so only names and routes count here.)
    findings = static_findings(url_patterns(__name__), views=False)
    assert [f.split(" ")[0] for f in findings] == ["customer-view", "tools", "switchUser"]
    assert suspicious("kluis.shop.views.impersonate")
    assert suspicious("impersonate_customer") and suspicious("LoginAsClient")
    assert suspicious("su") and not suspicious("suspend") and not suspicious("supplier")


@override_settings(ROOT_URLCONF=__name__)
def test_the_session_check_catches_a_view_that_logs_staff_in_as_a_customer(personas):
    findings = dynamic_findings(url_patterns(__name__), personas)
    assert len(findings) == 2  # GET and POST of /hulp/
    assert all("/hulp/" in f for f in findings)
