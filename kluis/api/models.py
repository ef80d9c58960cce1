"""API tokens and the idempotency keys of POST requests.

A token's secret is shown once; the table keeps its SHA-256 only (see README
"REST API" for why a plain hash suffices for a 256-bit random secret). A personal
token acts as its user (a customer, or a staff member with the roles they hold at
the moment of use); a service token acts for a hosting node or an integration and
holds node scopes only.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kluis.accounts.models import User


class ApiToken(models.Model):
    class Kind(models.TextChoices):
        PERSONAL = "personal", _("persoonlijk")
        SERVICE = "service", _("dienst")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(_("naam"), max_length=80)
    # Personal tokens: their owner. Service tokens have none.
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    # The start of the token as shown in lists ("kluis_pat_AbCd"); not secret.
    prefix = models.CharField(max_length=20)
    secret_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    # A hosting node's service token is bound to its node: the firewall fetch answers
    # with that node's sites only. Empty: the sites placed on no node (as before nodes).
    node = models.ForeignKey(
        "sites.HostingNode",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_tokens",
        verbose_name=_("hostingnode"),
    )
    created_at = models.DateTimeField(default=timezone.now)
    # SET_NULL: an erased customer's or a removed administrator's account leaves;
    # the audit log keeps who made and revoked which token.
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The rate limit's fixed window: its start (epoch minute) and its count.
    window = models.BigIntegerField(default=0)
    window_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="personal", user__isnull=False)
                | models.Q(kind="service", user__isnull=True),
                name="api_personal_tokens_have_a_user",
            ),
            models.CheckConstraint(
                condition=models.Q(node__isnull=True) | models.Q(kind="service"),
                name="api_only_service_tokens_have_a_node",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} token {self.prefix}…"

    def is_usable(self, now: object | None = None) -> bool:
        moment = now or timezone.now()
        return self.revoked_at is None and self.expires_at > moment  # type: ignore[operator]


class IdempotencyKey(models.Model):
    """A POST's Idempotency-Key: its body's digest and what it made, for a replay.

    `result` holds ids only, never an answer's text: an answer may carry personal
    data (an address on an allowlist), which lives sealed in its own row and is
    read again from there on a replay. Keys older than a day are deleted.
    """

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=80)
    route = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    result = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="api_idempotency_once"),
        ]

    def __str__(self) -> str:
        return f"idempotency key {self.key}"
