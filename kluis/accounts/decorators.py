"""Who may open a view: customers in the portal, staff by role in the back office."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeAlias

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from kluis.accounts.models import User

View: TypeAlias = Callable[..., HttpResponse]


def customer_required(view: View) -> View:
    """Anonymous visitors go to login; anyone but a customer is refused."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not isinstance(user, User) or user.is_staff_member:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def login_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def staff_required(*roles: str) -> Callable[[View], View]:
    """Staff with a verified second factor and, if given, one of `roles`.

    A customer gets a 404: the back office is not a place a customer can find.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not isinstance(user, User) or not user.is_staff_member:
                raise Http404
            if not user.is_verified():  # type: ignore[attr-defined]
                raise PermissionDenied  # the middleware sends them to MFA set-up first
            if roles and not user.role_set & set(roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.staff_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapper

    return decorator
