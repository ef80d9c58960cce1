"""audit_verify on PostgreSQL reads `at` and `subject` as the server's text; these
are the comparisons it makes, on every rendering PostgreSQL gives a timestamp."""

from __future__ import annotations

import pytest

from kluis.audit.chain import _pg_text_columns_match

SUBJECT = "41a4e8fa-633c-4267-9d84-2a57e72a4e24"


def doc(at: str, subject: str | None = SUBJECT) -> dict[str, object]:
    return {"at": at, "subject": subject}


@pytest.mark.parametrize(
    ("column", "payload"),
    [
        ("2026-12-04 23:10:18.324266+00", "2026-12-04T23:10:18.324266+00:00"),
        ("2026-12-04 23:10:18.32+00", "2026-12-04T23:10:18.320000+00:00"),  # zeros trimmed
        ("2026-12-04 23:10:18+00", "2026-12-04T23:10:18+00:00"),  # no fraction
        ("2026-12-05 00:10:18.32+01", "2026-12-04T23:10:18.320000+00:00"),  # other zone
    ],
)
def test_the_same_instant_matches(column: str, payload: str) -> None:
    assert _pg_text_columns_match(column, SUBJECT, doc(payload))


@pytest.mark.parametrize(
    ("column", "subject", "payload"),
    [
        ("2026-12-04 23:10:18.324267+00", SUBJECT, doc("2026-12-04T23:10:18.324266+00:00")),
        ("2026-12-04 23:10:18.3+00", SUBJECT, doc("2026-12-04T23:10:18.030000+00:00")),
        ("2026-12-04 23:10:18+00", SUBJECT, doc("2026-12-04T23:10:18.000001+00:00")),
        ("2026-12-04 23:10:18+00", None, doc("2026-12-04T23:10:18+00:00")),
        ("2026-12-04 23:10:18+00", SUBJECT, doc("2026-12-04T23:10:18+00:00", None)),
        ("not a time", SUBJECT, doc("2026-12-04T23:10:18+00:00")),
    ],
)
def test_a_changed_column_does_not(column: str, subject: str | None, payload: dict) -> None:
    assert not _pg_text_columns_match(column, subject, payload)
