"""Template tags of the design system (README.md, "Design"): `{% load ui %}`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms, template
from django.http import HttpRequest
from django.utils import timezone

from kluis import formats
from kluis.policy.loader import current_policy
from kluis.web.design import compact_render

register = template.Library()

CART_SESSION_KEY = "kluis_cart"  # kluis.shop.cart.SESSION_KEY; web does not import shop
TONES = ("neutral", "success", "warning", "danger", "info")
# How long the public home and the portal's home say that the policy changed (R45).
POLICY_NOTICE_DAYS = 30


@register.simple_tag(takes_context=True)
def cart_count(context: dict[str, Any]) -> int:
    """How many items the visitor's cart holds, read from the session without a query."""
    request = context.get("request")
    if not isinstance(request, HttpRequest) or not hasattr(request, "session"):
        return 0
    raw = request.session.get(CART_SESSION_KEY)
    if not isinstance(raw, dict):
        return 0
    return sum(len(raw.get(key) or ()) for key in ("products", "domains"))


@register.inclusion_tag("web/components/badge.html")
def badge(text: object, tone: str = "neutral") -> dict[str, object]:
    """A status badge: `{% badge order.get_status_display "success" %}`."""
    return {"text": text, "tone": tone if tone in TONES else "neutral"}


@register.inclusion_tag("web/components/empty.html")
def empty_state(text: object, url: str = "", action: object = "") -> dict[str, object]:
    """What a list says when there is nothing in it, with an optional way forward."""
    return {"text": text, "url": url, "action": action}


@register.inclusion_tag("web/components/policy_notice.html")
def policy_notice() -> dict[str, object]:
    """For POLICY_NOTICE_DAYS after a policy version took effect: its date and a link to
    what changed (the mail to every customer says the same, kluis/web/jobs.py)."""
    policy = current_policy()
    age = timezone.localdate() - policy.date
    recent = dt.timedelta(0) <= age < dt.timedelta(days=POLICY_NOTICE_DAYS)
    return {"policy": policy if recent else None}


@register.filter
def compact(form: forms.BaseForm, visible: str = "") -> str:
    """A small form on one row: `{{ form|compact }}`, or `{{ form|compact:"label" }}` to
    show the label of field `label` (others are for screen readers only)."""
    return compact_render(form, tuple(name for name in visible.split(",") if name))


@register.filter
def in_section(request: object, prefix: str) -> bool:
    """Whether the page is in a menu link's section: `aria-current` on that link."""
    return str(getattr(request, "path", "")).startswith(prefix)


@register.filter(name="long_date")
def long_date_filter(value: object) -> str:
    """ "4 december 2026" / "4 December 2026": `{{ invoice.due_date|long_date }}`."""
    return formats.long_date(value)  # type: ignore[arg-type]


@register.filter(name="long_datetime")
def long_datetime_filter(value: object, seconds: str = "") -> str:
    """ "4 december 2026, 14:05" (Amsterdam time); `|long_datetime:"s"` adds the seconds."""
    return formats.long_datetime(value, seconds=bool(seconds))  # type: ignore[arg-type]
