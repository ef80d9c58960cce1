"""Schemathesis against the app in-process (WSGI), as a customer, staff and a node.

A small, fixed number of examples per operation (derandomized, so a CI run is
repeatable and bounded): valid data and data the schema forbids. Every answer must
be no 5xx, conform to the schema (status code, content type, body), and invalid
data must be refused with a 4xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as examples
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from kluis.api.scopes import scopes_for
from kluis.api.testing import bearer, service_token, token_for
from kluis.billing.testing import invoice_kwargs
from kluis.domains.testing import registered_domain_kwargs
from kluis.sites.testing import make_entry, make_site

pytestmark = pytest.mark.django_db(databases="__all__")

CUSTOMER = [s.key for s in scopes_for("customer")]
ERASE = "privacy:erasure"

EXAMPLES = 4
# The address requests come from (werkzeug's test client sets none).
CLIENT = {"REMOTE_ADDR": "145.100.10.50"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _fuzz(
    operation: Any, mode: GenerationMode, header: dict[str, str], ids: dict[str, Any] | None
) -> bool:
    """Run the examples of one operation; whether any answer was a success."""
    checks = CHECKS + ([negative_data_rejection] if mode.is_negative else [])
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=ids)
    statuses: list[int] = []

    @examples(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=header, checks=checks, environ_overrides=CLIENT)
        statuses.append(response.status_code)

    run()
    return any(status < 300 for status in statuses)


@pytest.fixture
def in_process() -> Iterator[None]:
    # As Django's test client does: requests must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_the_api_answers_every_generated_request_by_its_schema(personas, settings, in_process):
    settings.KLUIS_API_RATE_PER_MINUTE = 100_000
    entry = make_entry(make_site(personas.customer_a), personas.alice)
    # Valid data reaches real objects of the customer's; invalid data gets its own ids.
    known = {
        "invoice_id": str(invoice_kwargs(personas)["invoice_id"]),
        "site_id": entry.site_id,
        "entry_id": str(entry.pk),
        "registration_id": registered_domain_kwargs(personas)["registration_id"],
    }
    headers = {
        # Every scope but erasure, which would end the customer half-way.
        "customer": bearer(
            token_for(personas.alice, [s for s in CUSTOMER if s != "privacy:erasure"])
        ),
        "staff": bearer(token_for(personas.staff["finance"])),
        "orders": bearer(token_for(personas.staff["orders"])),
        "node": bearer(service_token(personas.staff["admin"])),
    }
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler())
    tried = 0
    succeeded: set[str] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        tag = operation.definition.raw.get("tags", ["customer"])[0]
        roles = operation.definition.raw.get("x-roles", [])
        if tag == "staff" and roles and "finance" not in roles:
            tag = "orders"  # the desk's operations: a member of the orders role
        header = {"Authorization": headers[tag]["HTTP_AUTHORIZATION"]}
        names = {p.name for p in operation.path_parameters}
        ids = {k: v for k, v in known.items() if k in names}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            ok = _fuzz(operation, mode, header, None if mode.is_negative else ids)
            succeeded |= {f"{operation.method.upper()} {operation.path}"} if ok else set()
            tried += 1

    assert tried >= 2 * 14
    # Not only refusals: valid data reached the operations' work, for every kind of caller.
    assert {
        "GET /api/v1/invoices",
        "GET /api/v1/invoices/{invoice_id}/pdf",
        "GET /api/v1/domains/{registration_id}",
        "POST /api/v1/sites/{site_id}/allowlist/current",
        "GET /api/v1/nodes/firewall",
        "GET /api/v1/staff/finance/open-invoices",
        "GET /api/v1/staff/orders",
        "GET /api/v1/payments",
        "GET /api/v1/legal",
    } <= succeeded, succeeded


# --- stateful: sequences that follow the links between operations ----------------------

STEPS = 6
SCENARIOS = 20
# The customer's operations whose ids come from another's answer: sites, their
# allowlists and entries; invoices and what hangs off them.
LINKED = r"^/api/v1/(sites|invoices)"


def test_sequences_following_links_keep_to_the_schema(personas, settings, in_process):
    """Schemathesis's state machine over the customer's linked operations: it infers the
    links from the schema (an id one answer gives and another operation's path takes:
    GET /invoices gives the invoice for GET /invoices/{invoice_id}/pdf, GET /sites the
    site for POST /sites/{site_id}/allowlist, whose entry id the DELETE takes) and runs
    a bounded number of derandomized sequences, positive and negative steps mixed.
    Every answer is checked as above, and also that a resource made is there
    (ensure_resource_availability) and one removed stays gone (use_after_free)."""
    settings.KLUIS_API_RATE_PER_MINUTE = 100_000
    make_site(personas.customer_a)
    invoice_kwargs(personas)
    token = token_for(personas.alice, [s for s in CUSTOMER if s != ERASE])
    header = {"Authorization": bearer(token)["HTTP_AUTHORIZATION"]}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler())
    machine = schema.include(path_regex=LINKED).as_state_machine()
    calls: list[tuple[str, int]] = []

    class Customer(machine):  # type: ignore[valid-type, misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": header, "environ_overrides": CLIENT}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            calls.append((case.operation.label, response.status_code))

        def validate_response(
            self, response: Any, case: schemathesis.Case, additional_checks: Any = None, **kw: Any
        ) -> None:
            case.validate_response(
                response,
                checks=[*CHECKS, use_after_free, ensure_resource_availability],
                transport_kwargs=kw or None,
                recorder=self.recorder,
            )

    Customer.run(
        settings=examples(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
    # An invoice's id is a random UUID that only GET /invoices answers: a success on an
    # operation that takes one means a link was followed, not an id guessed.
    linked = {label for label, status in calls if "{invoice_id}" in label and status < 300}
    assert linked, calls
