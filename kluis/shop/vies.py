"""An adapter for the EU's VIES service (REST API), and what its answers mean for us.

Only "valid" makes a business customer exempt (reverse charge). "invalid" means the
customer is treated as a consumer. Anything else (a member state's service down,
HTTP errors, a timeout, an answer we cannot read) is "unavailable": the order waits
and the retry job (`manage.py shop_vies_retry`) asks again later.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass

DEFAULT_URL = "https://ec.europa.eu/taxation_customs/vies/rest-api/check-vat-number"
DEFAULT_TIMEOUT = 10.0
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class ViesAnswer:
    result: str  # "valid", "invalid" or "unavailable"
    detail: str = ""  # VIES' own code (MS_UNAVAILABLE, ...) or the error's class
    request_date: str = ""
    request_identifier: str = ""
    answer_sha256: str = ""


def vies_url() -> str:
    return os.environ.get("KLUIS_VIES_URL", DEFAULT_URL)


def vies_timeout() -> float:
    return float(os.environ.get("KLUIS_VIES_TIMEOUT", DEFAULT_TIMEOUT))


def vies_check(
    *, country: str, number: str, url: str | None = None, timeout: float | None = None
) -> ViesAnswer:
    """Ask VIES whether `country` + `number` is a valid VAT number (number without prefix)."""
    body = json.dumps({"countryCode": country, "vatNumber": number}).encode()
    request = urllib.request.Request(  # noqa: S310 (the URL is configuration, https by default)
        url or vies_url(),
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout or vies_timeout()) as response:  # noqa: S310
            raw = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        return ViesAnswer("unavailable", f"HTTP {exc.code}")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return ViesAnswer("unavailable", type(exc).__name__)
    if len(raw) > MAX_ANSWER_BYTES:
        return ViesAnswer("unavailable", "AnswerTooLarge")
    return read_answer(raw)


def read_answer(raw: bytes) -> ViesAnswer:
    digest = hashlib.sha256(raw).hexdigest()
    try:
        data = json.loads(raw)
    except ValueError:
        return ViesAnswer("unavailable", "NotJson", answer_sha256=digest)
    if not isinstance(data, dict):
        return ViesAnswer("unavailable", "NotAnObject", answer_sha256=digest)
    # An error answer: {"actionSucceed": false, "errorWrappers": [{"error": "MS_UNAVAILABLE"}]}
    wrappers = data.get("errorWrappers")
    if data.get("actionSucceed") is False or wrappers:
        code = ""
        if isinstance(wrappers, list) and wrappers and isinstance(wrappers[0], dict):
            code = str(wrappers[0].get("error", ""))[:60]
        return ViesAnswer("unavailable", code or "Error", answer_sha256=digest)
    user_error = str(data.get("userError", "") or "")[:60]
    valid = data.get("valid")
    common = {
        "request_date": str(data.get("requestDate", "") or "")[:40],
        "request_identifier": str(data.get("requestIdentifier", "") or "")[:60],
        "answer_sha256": digest,
    }
    if valid is True and user_error in ("", "VALID"):
        return ViesAnswer("valid", user_error or "VALID", **common)
    if valid is False and user_error in ("", "INVALID", "VALID"):
        return ViesAnswer("invalid", user_error or "INVALID", **common)
    # valid: false with MS_UNAVAILABLE, TIMEOUT, ... is not an answer about the number.
    return ViesAnswer("unavailable", user_error or "NoVerdict", **common)
