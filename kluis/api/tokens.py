"""Making, revoking and checking API tokens; the per-token rate limit.

A token is `kluis_pat_…` (personal) or `kluis_svc_…` (service) followed by 43
characters of `secrets.token_urlsafe(32)`: 256 random bits. The table keeps the
SHA-256 of the whole token. Against a guess, 256 bits need no slow hash (there is
no dictionary of tokens to try); a slow hash would cost every request tens of
milliseconds, and a stolen table still gives no usable token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kluis.accounts.models import User
from kluis.api.models import ApiToken
from kluis.api.scopes import SCOPES, Holder
from kluis.audit.chain import audit_append
from kluis.policy.enforce import Actor
from kluis.sites.models import HostingNode

PREFIXES: dict[str, str] = {
    ApiToken.Kind.PERSONAL: "kluis_pat_",
    ApiToken.Kind.SERVICE: "kluis_svc_",
}
MAX_DAYS = 366
NAME_MAX = 80


class TokenError(Exception):
    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def holder_of(token: ApiToken) -> Holder:
    if token.kind == ApiToken.Kind.SERVICE:
        return "service"
    assert token.user is not None
    return "staff" if token.user.is_staff_member else "customer"


def _check(*, name: str, scopes: list[str], days: int, holder: Holder) -> str:
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise TokenError(_("Geef het token een naam van hoogstens 80 tekens."))
    if not scopes:
        raise TokenError(_("Kies minstens één bevoegdheid."))
    for key in scopes:
        scope = SCOPES.get(key)
        if scope is None or holder not in scope.holders:
            raise TokenError(_("Deze bevoegdheid kan dit token niet krijgen."))
    if not 1 <= days <= MAX_DAYS:
        raise TokenError(_("Een token is 1 tot 366 dagen geldig."))
    return name


def _create(
    *,
    kind: str,
    user: User | None,
    name: str,
    scopes: list[str],
    days: int,
    by: User,
    node: HostingNode | None = None,
) -> tuple[ApiToken, str]:
    text = PREFIXES[kind] + secrets.token_urlsafe(32)
    token = ApiToken(
        kind=kind,
        user=user,
        name=name,
        prefix=text[:14],
        secret_hash=digest(text),
        scopes=sorted(set(scopes)),
        node=node,
        created_by=by,
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    with transaction.atomic():
        token.save(force_insert=True)
        audit_append(
            action="api.token_created",
            actor=by.actor().ref,
            subject=user.vault_subject() if user else None,
            data={
                "token": str(token.pk),
                "kind": kind,
                "scopes": token.scopes,
                "days": days,
                **({"node": node.pk} if node is not None else {}),
            },
        )
    return token, text


def personal_token_create(
    *, user: User, name: str, scopes: list[str], days: int
) -> tuple[ApiToken, str]:
    """A token acting as `user`; returns the row and the token text (shown once)."""
    holder: Holder = "staff" if user.is_staff_member else "customer"
    name = _check(name=name, scopes=scopes, days=days, holder=holder)
    return _create(
        kind=ApiToken.Kind.PERSONAL, user=user, name=name, scopes=scopes, days=days, by=user
    )


def service_token_create(
    *, name: str, scopes: list[str], days: int, by: User, node: HostingNode | None = None
) -> tuple[ApiToken, str]:
    """A hosting node's or integration's token; only administrators make them. A
    hosting node's token is bound to its `node`: it reads that node's sites only."""
    if "admin" not in by.role_set:
        raise TokenError(_("Alleen beheerders maken diensttokens."))
    name = _check(name=name, scopes=scopes, days=days, holder="service")
    return _create(
        kind=ApiToken.Kind.SERVICE,
        user=None,
        name=name,
        scopes=scopes,
        days=days,
        by=by,
        node=node,
    )


def token_revoke(*, token: ApiToken, by: User) -> None:
    mine = token.user_id == by.pk
    if not mine and not (token.kind == ApiToken.Kind.SERVICE and "admin" in by.role_set):
        raise TokenError(_("Dit token kun je niet intrekken."))
    if token.revoked_at is not None:
        return
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.revoked_by = by
        token.save(update_fields=["revoked_at", "revoked_by"])
        audit_append(
            action="api.token_revoked",
            actor=by.actor().ref,
            subject=token.user.vault_subject() if token.user else None,
            data={"token": str(token.pk)},
        )


@dataclass(frozen=True)
class Caller:
    """Who a request's token acts as."""

    token: ApiToken
    holder: Holder
    actor: Actor

    @property
    def user(self) -> User:
        assert self.token.user is not None
        return self.token.user


def authenticate(text: str) -> Caller | None:
    """The token's caller, or None for an unknown, expired or revoked token.

    A staff token carries the roles its owner holds now, so taking a role away takes
    it from their tokens too; a switched-off account's tokens stop working.
    """
    if not text.startswith(tuple(PREFIXES.values())) or len(text) > 100:
        return None
    token = ApiToken.objects.select_related("user").filter(secret_hash=digest(text)).first()
    if token is None or not token.is_usable():
        return None
    if token.kind == ApiToken.Kind.SERVICE:
        return Caller(token, "service", Actor.system(f"api:{token.pk}"))
    user = token.user
    if user is None or not user.is_active:
        return None
    return Caller(token, holder_of(token), user.actor())


def still_usable(secret_hash: str) -> bool:
    """Whether the token with this hash is neither revoked nor expired: one plain read,
    for a service token whose row this process already read (kluis/api/quiet.py)."""
    meta = ApiToken._meta
    q = connection.ops.quote_name
    sql = (
        f"SELECT 1 FROM {q(meta.db_table)} WHERE {q('secret_hash')} = %s "  # noqa: S608
        f"AND {q('revoked_at')} IS NULL AND {q('expires_at')} > %s"
    )
    now = meta.get_field("expires_at").get_db_prep_value(timezone.now(), connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [secret_hash, now])
        return cursor.fetchone() is not None


def rate_limit(token: ApiToken, *, now: float | None = None) -> int:
    """Count one request; 0 if allowed, else the seconds until the next window."""
    return rate_count(token, now=now)[1]


def rate_count(token: ApiToken, *, extra: int = 0, now: float | None = None) -> tuple[int, int]:
    """Count one request (and `extra` quiet ones of this window, kluis/api/quiet.py);
    (the window's count, 0 if allowed else the seconds until the next window).

    A fixed window of a minute per token, in the token's row, so every web process
    counts together: one UPDATE … RETURNING (SQLite and PostgreSQL both have it)
    counts, starts a new window when the minute changed, and records the last use.
    """
    moment = time.time() if now is None else now
    window = int(moment // 60)
    meta = ApiToken._meta
    q = connection.ops.quote_name  # "window" is an SQL keyword
    count, start = q("window_count"), q("window")
    sql = (
        f"UPDATE {q(meta.db_table)} SET "  # noqa: S608 (names are ours)
        f"{count} = CASE WHEN {start} = %s THEN {count} + 1 + %s ELSE 1 END, "
        f"{start} = %s, {q('last_used_at')} = %s WHERE {q('id')} = %s RETURNING {count}"
    )
    used = meta.get_field("last_used_at").get_db_prep_value(timezone.now(), connection)
    key = meta.get_field("id").get_db_prep_value(token.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [window, max(extra, 0), window, used, key])
        row = cursor.fetchone()
    counted = int(row[0]) if row is not None else 0
    if counted > settings.KLUIS_API_RATE_PER_MINUTE:
        return counted, max(1, int((window + 1) * 60 - moment) + 1)
    return counted, 0
