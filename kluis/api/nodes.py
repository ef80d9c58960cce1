"""The hosting nodes' API: the firewall allowlists, as the file export writes them, and
their logs for the usage statistics (kluis/usage), batch by batch.

A node's service token is bound to its HostingNode (`ApiToken.node`): the firewall
fetch answers with that node's sites only, as `nodes/<name>/` of the file export, and
its ETag is that node's; a log batch counts web lines of that node's sites only (a
line for another node's site is skipped, like one of an unknown host). A token bound
to no node gets the sites placed on no node (the export's top directory), which is
every site while kluis knows no nodes, and its log batches count every site's lines.
The batch ids (replay protection) and the Postfix queue state of a node-bound token's
batches are the node's (`ingest_key`): a node's new token continues them.

Each site comes with its admin's own port, when it has one, as the exported ruleset's
chain closes it. The ETag is the export's own digest of its inputs (sites' statuses,
admin ports and the ids of current entries, plain columns), kept in the process while
the allowlists' version token stays (`kluis.sites.firewall.inputs_etag`): a node that
already holds the current lists gets a 304 without a single sealed value being opened,
after one read of the version row. Its audit: see kluis/api/quiet.py.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Status

from kluis.api.auth import caller_of, guard, poll_guard
from kluis.api.problems import Problem
from kluis.api.schemas import ERRORS, FirewallOut, LogBatchIn, LogBatchOut
from kluis.api.tokens import Caller
from kluis.sites.firewall import admin_ports, current_state, inputs_etag
from kluis.usage.ingest import BatchConflict, ingest_batch

router = Router(tags=["node"])


def ingest_key(token_id: object, node_id: int | None) -> str:
    """Whose batch ids and Postfix queue state a log batch continues: the hosting node's,
    when the token is bound to one (so they carry over to the node's next token when its
    token is replaced), else the token's own."""
    return f"node-{node_id}" if node_id is not None else f"token-{token_id}"


def etag_matches(request: HttpRequest, etag: str) -> bool:
    wanted = request.headers.get("If-None-Match", "")
    return etag in [t.strip() for t in wanted.split(",")] or wanted.strip() == "*"


def _etag(request: HttpRequest, caller: Caller) -> str:
    """The current ETag of the caller's node, once per request (the poll's auth asks
    first, then the view)."""
    known: str | None = getattr(request, "firewall_etag", None)
    if known is None:
        known = f'"{inputs_etag(node=caller.token.node_id)}"'
        request.firewall_etag = known  # type: ignore[attr-defined]
    return known


def firewall_unchanged(request: HttpRequest, caller: Caller) -> bool:
    """Whether this fetch will be answered 304 (for the quiet audit of polls)."""
    return etag_matches(request, _etag(request, caller))


@router.get(
    "/firewall",
    response={200: FirewallOut, 304: None, **ERRORS},
    **poll_guard("firewall:read", unchanged=firewall_unchanged),
    url_name="node-firewall",
    summary=(
        "The admin allowlists of the token's hosting node's sites; send If-None-Match to "
        "get 304 when unchanged"
    ),
)
def firewall(request: HttpRequest, response: HttpResponse) -> Any:
    """A token bound to a node gets that node's sites; one bound to none, the sites
    placed on no node."""
    now = timezone.now()
    token = caller_of(request).token
    node = token.node_id
    etag = _etag(request, caller_of(request))
    version = etag.strip('"')
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    if etag_matches(request, etag):
        return Status(304, None)
    state = current_state(now, node=node)
    ports = admin_ports(node=node)
    return {
        "version": version,
        "node": token.node.name if token.node is not None else None,
        "sites": [
            {"site": pk, "elements": state[pk], "admin_port": ports.get(pk)} for pk in sorted(state)
        ],
    }


@router.post(
    "/logs",
    response={201: LogBatchOut, 200: LogBatchOut, **ERRORS},
    **guard("logs:write"),
    url_name="node-logs",
    summary="Deliver a batch of web or mail log lines; the same batch again counts nothing",
)
def logs(request: HttpRequest, body: LogBatchIn) -> Status[Any]:
    # A token bound to a hosting node counts web lines of that node's sites only.
    token = caller_of(request).token
    try:
        result = ingest_batch(
            node=ingest_key(token.pk, token.node_id),
            kind=body.kind,
            batch_id=body.batch_id,
            lines=body.lines,
            site_node=token.node_id,
        )
    except BatchConflict:
        raise Problem(
            "conflict",
            _("Deze batch-id is al gebruikt voor andere regels; er is niets geteld."),
        ) from None
    out = {"accepted": result.accepted, "skipped": result.skipped, "replayed": result.replayed}
    return Status(200 if result.replayed else 201, out)
