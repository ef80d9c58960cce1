"""Fixtures of the shop's tests: personas, the catalogue, SMTP and a recorded VIES."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from kluis.mail.tests.conftest import (  # noqa: F401 (fixtures)
    SmtpServer,
    smtp_server,
    smtp_settings,
)
from kluis.shop.catalogue import catalogue_load

# Recorded answers of the VIES REST API (check-vat-number), trader data made up.
VIES_VALID = {
    "countryCode": "BE",
    "vatNumber": "0403019261",
    "requestDate": "2026-11-25T10:00:00.000Z",
    "valid": True,
    "requestIdentifier": "WAPIAAAAW1234567",
    "name": "NV EXAMPLE",
    "address": "MEIR 50\n2000 ANTWERPEN",
    "traderName": "---",
    "userError": "VALID",
}
VIES_INVALID = {
    **VIES_VALID,
    "valid": False,
    "name": "---",
    "address": "---",
    "userError": "INVALID",
}
VIES_MS_UNAVAILABLE = {
    **VIES_VALID,
    "valid": False,
    "name": "---",
    "address": "---",
    "userError": "MS_UNAVAILABLE",
}
VIES_ERROR_WRAPPER = {
    "actionSucceed": False,
    "errorWrappers": [
        {"error": "MS_UNAVAILABLE", "message": "The member state service is unavailable"}
    ],
}


@pytest.fixture
def catalogue(db: None) -> None:
    catalogue_load()


@dataclass
class Vies:
    url: str
    # What the next requests get: (HTTP status, JSON body or None, delay in seconds).
    script: list[tuple[int, Any, float]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, status: int, body: Any = None, delay: float = 0.0) -> None:
        self.script.append((status, body, delay))


@pytest.fixture
def vies(monkeypatch: pytest.MonkeyPatch) -> Iterator[Vies]:
    """A local HTTP server that replays recorded VIES answers; KLUIS_VIES_URL points to it."""
    state = Vies(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            state.requests.append(json.loads(self.rfile.read(length) or b"{}"))
            status, body, delay = state.script.pop(0) if state.script else (200, VIES_VALID, 0.0)
            if delay:
                time.sleep(delay)
            payload = json.dumps(body).encode() if body is not None else b"<html>error</html>"
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/check-vat-number"
    monkeypatch.setenv("KLUIS_VIES_URL", state.url)
    monkeypatch.setenv("KLUIS_VIES_TIMEOUT", "1")
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
