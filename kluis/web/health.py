"""/healthz: the process is up and answers, without touching a database.

Also the floor of the load run (bench/locustfile.py): a bare Django view through the
same server and middleware, so a page's cost can be read beside it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")
