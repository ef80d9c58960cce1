"""Log lines for the tests, written from nginx's and Postfix's documented formats."""

from __future__ import annotations

import datetime as dt
import json

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def combined(
    day: dt.date,
    addr: str,
    path: str = "/",
    status: int = 200,
    size: int = 512,
    ua: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
    host: str | None = None,
) -> str:
    stamp = f"{day.day:02d}/{MONTHS[day.month - 1]}/{day.year}:10:11:12 +0100"
    line = f'{addr} - - [{stamp}] "GET {path} HTTP/1.1" {status} {size} "-" "{ua}"'
    return line + (f' "{host}"' if host else "") + "\n"


def kluis_json(
    day: dt.date,
    addr: str,
    path: str = "/",
    status: int = 200,
    size: int = 512,
    ua: str = "Mozilla/5.0",
    host: str = "shop.example.nl",
) -> str:
    # Key order and escaping as nginx writes `log_format kluis escape=json`.
    fields = {
        "time": f"{day.isoformat()}T10:11:12+01:00",
        "host": host,
        "addr": addr,
        "request": f"GET {path} HTTP/1.1",
    }
    head = ",".join(f'"{k}":{json.dumps(v)}' for k, v in fields.items())
    ua_json = json.dumps(ua)
    return "{" + head + f',"status":{status},"bytes":{size},"ua":{ua_json}' + "}\n"


def syslog(day: dt.date, daemon: str, text: str, second: int = 0) -> str:
    stamp = f"{MONTHS[day.month - 1]} {day.day:2d} 03:04:{second:02d}"
    return f"{stamp} mx1 postfix/{daemon}[4242]: {text}\n"
