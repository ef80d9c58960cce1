"""The hosting nodes' API: the firewall allowlists, as the file export writes them.

The ETag is the export's own digest of its inputs (sites' statuses and the ids of
current entries, plain columns): a node that already holds the current lists gets a
304 without a single sealed value being opened.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Status

from kluis.api.auth import guard
from kluis.api.schemas import ERRORS, FirewallOut
from kluis.sites.firewall import current_state, inputs_digest

router = Router(tags=["node"])


@router.get(
    "/firewall",
    response={200: FirewallOut, 304: None, **ERRORS},
    **guard("firewall:read"),
    url_name="node-firewall",
    summary="Every site's admin allowlist; send If-None-Match to get 304 when unchanged",
)
def firewall(request: HttpRequest, response: HttpResponse) -> Any:
    now = timezone.now()
    version = inputs_digest(now)
    etag = f'"{version}"'
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    wanted = request.headers.get("If-None-Match", "")
    if etag in [t.strip() for t in wanted.split(",")] or wanted.strip() == "*":
        return Status(304, None)
    state = current_state(now)
    return {
        "version": version,
        "sites": [{"site": pk, "elements": state[pk]} for pk in sorted(state)],
    }
