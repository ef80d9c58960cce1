"""Objects of Alice for the access-control harness (kluis.testing.ROUTES)."""

from __future__ import annotations

import io
from typing import Any

from kluis.testing import Personas


def alice_request(p: Personas, kind: str = "restriction") -> Any:
    from kluis.rights.models import RightsRequest
    from kluis.rights.services import request_from_portal

    request = request_from_portal(user=p.alice, kind=kind)
    assert isinstance(request, RightsRequest)
    return request


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, format="PNG")
    return out.getvalue()


def request_kwargs(p: Personas) -> dict[str, Any]:
    return {"request_id": alice_request(p).pk}


def access_kwargs(p: Personas) -> dict[str, Any]:
    return {"request_id": alice_request(p, "access").pk, "fmt": "pdf"}


def rectification_kwargs(p: Personas) -> dict[str, Any]:
    return {"request_id": alice_request(p, "rectification").pk}


def id_copy_kwargs(p: Personas) -> dict[str, Any]:
    from kluis.rights.services import id_copy_store

    request = alice_request(p)
    request.status = "awaiting_id"
    request.save()
    id_copy_store(request=request, content=png_bytes())
    return {"request_id": request.pk}


def _public(p: Personas, status: str, purpose: str) -> dict[str, Any]:
    from django.utils import timezone

    from kluis.rights import links
    from kluis.rights.models import RightsRequest
    from kluis.rights.services import due_date

    request = RightsRequest(
        kind="access", channel="public", status=status, due_on=due_date(timezone.now())
    )
    request.requester_name = "Alice de Vries"
    request.requester_email = "alice@example.nl"
    links.new_nonce(request, purpose)
    request.save()
    return {"token": links.link_token(request, purpose)}


def confirm_kwargs(p: Personas) -> dict[str, Any]:
    return _public(p, "unconfirmed", "confirm")


def upload_kwargs(p: Personas) -> dict[str, Any]:
    return _public(p, "awaiting_id", "upload")


def follow_up_kwargs(p: Personas) -> dict[str, Any]:
    from kluis.rights.models import FollowUp

    made = FollowUp.objects.create(
        subject=p.customer_a.pk, recipient="sidn", categories=["user.name"]
    )
    return {"follow_up_id": made.pk}


def police_kwargs(p: Personas, status: str = "registered") -> dict[str, Any]:
    from kluis.rights.models import PoliceRequest

    made = PoliceRequest.objects.create(
        authority="Politie Amsterdam",
        legal_basis="art. 126nd Sv",
        order_reference="PV-1",
        subject=p.customer_a.pk,
        categories=["user.name", "user.contact.email"],
        approved_categories=["user.name"] if status == "approved" else [],
        status=status,
        registered_by="user:another-officer",
    )
    return {"police_id": made.pk}


def confidential_police_kwargs(p: Personas) -> dict[str, Any]:
    """A request Alice may not be told of, registered as the service does."""
    from kluis.rights.legal_requests import police_register
    from kluis.testing import make_staff

    made = police_register(
        customer=p.customer_a,
        authority="Politie Amsterdam",
        legal_basis="art. 126nc Sv",
        order_reference="PV-2",
        categories=["user.name"],
        may_inform_subject=False,
        by=make_staff(roles=["privacy_officer"]),
    )
    return {"police_id": made.pk}


def limit_kwargs(p: Personas) -> dict[str, Any]:
    """A restriction of Alice's processing that holds."""
    from kluis.rights.limits import restriction_start

    return {"limit_id": restriction_start(request=alice_request(p), by="user:officer").pk}
