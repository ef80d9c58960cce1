"""Idempotency-Key on POST: the same key and body give the same outcome once."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from kluis.api.models import IdempotencyKey
from kluis.api.problems import Problem
from kluis.api.tokens import Caller

KEY = re.compile(r"^[A-Za-z0-9._:-]{1,80}$")
KEEP = dt.timedelta(days=1)


def idempotent(
    request: HttpRequest,
    caller: Caller,
    make: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Any], bool]:
    """Run `make` (which returns ids only) once per key; (its result, replayed?).

    Without a key `make` simply runs. With one, a replay with the same body returns
    the first result without running again; the same key with another body or on
    another operation is refused (422) and changes nothing.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return make(), False
    if not KEY.match(key):
        raise Problem(
            "invalid",
            _("Een Idempotency-Key is 1 tot 80 letters, cijfers of . _ : -."),
        )
    route = f"{request.method} {request.path}"
    body = hashlib.sha256(request.body).hexdigest()
    token = caller.token
    try:
        with transaction.atomic():
            IdempotencyKey.objects.filter(
                token=token, created_at__lt=timezone.now() - KEEP
            ).delete()
            known = IdempotencyKey.objects.select_for_update().filter(token=token, key=key).first()
            if known is not None:
                if known.body_sha256 != body or known.route != route:
                    raise Problem(
                        "idempotency-mismatch",
                        _("Deze Idempotency-Key is al gebruikt voor een ander verzoek."),
                    )
                return dict(known.result), True
            result = make()
            IdempotencyKey.objects.create(
                token=token, key=key, route=route, body_sha256=body, status=201, result=result
            )
    except IntegrityError:
        # The same key at the same moment from elsewhere: that one counts, this one did not.
        raise Problem(
            "idempotency-mismatch",
            _("Deze Idempotency-Key wordt op dit moment al gebruikt; probeer het opnieuw."),
        ) from None
    return result, False
