from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from kluis.vault.keys import key_scope


class VaultScopeMiddleware:
    """One key cache and one batch of reveal audit entries per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from kluis.audit.reveals import reveal_batch

        with key_scope(), reveal_batch():
            return self.get_response(request)
