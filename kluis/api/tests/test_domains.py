"""The domain operations against the local EPP registry: the check, nameservers and
the auth code, with bad input, the wrong scope and the registry's refusals."""

from __future__ import annotations

import json

import pytest
from django.core import mail

from kluis.accounts import throttle
from kluis.api.testing import bearer, problem_of, token_for
from kluis.audit.models import AuditEntry
from kluis.domains import epp_local
from kluis.domains.availability import CHECK_ADDRESS
from kluis.domains.models import DomainRegistration
from kluis.domains.testing import check_data, registered_at_registry_kwargs
from kluis.domains.tests.conftest import taken_elsewhere
from kluis.mail.delivery import deliver_due
from kluis.mail.models import OutboxMessage
from kluis.testing import Personas

pytestmark = pytest.mark.django_db(databases="__all__")


def _send(client, method, url, body, token, **extra):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.generic(
        method, url, data, content_type="application/json", **bearer(token, **extra)
    )


def test_the_check_asks_the_registry_and_is_limited_as_in_the_shop(
    client, personas: Personas, registries_local: epp_local.Running
) -> None:
    check_data(personas)
    taken_elsewhere(registries_local, "bezet-al.nl")
    token = token_for(personas.alice, ["domains:write"])
    url = "/api/v1/domains/check"

    free = _send(client, "POST", url, {"label": "Café-Noord", "tld": "eu"}, token)
    assert free.status_code == 200, free.content
    assert json.loads(free.content) == {"domain": "café-noord.eu", "verdict": "free", "reason": ""}
    taken = json.loads(
        _send(client, "POST", url, {"label": "bezet-al", "tld": "nl"}, token).content
    )
    assert taken["verdict"] == "taken"

    # Bad input: wrong type, an unknown field, a label no registry takes, an extension
    # the shop does not sell; nothing is asked.
    asked = len(registries_local.registry.received)
    problem_of(_send(client, "POST", url, {"label": 12, "tld": "nl"}, token), 422, "invalid")
    body = {"label": "goed", "tld": "nl", "years": 2}
    assert (
        problem_of(_send(client, "POST", url, body, token), 422, "invalid")["errors"][0]["code"]
        == "extra_forbidden"
    )
    bad = problem_of(
        _send(client, "POST", url, {"label": "-fout-", "tld": "nl"}, token), 422, "invalid"
    )
    assert bad["errors"][0]["field"] == "label"
    problem_of(_send(client, "POST", url, {"label": "goed", "tld": "xyz"}, token), 422, "invalid")
    assert len(registries_local.registry.received) == asked

    # The wrong scope: domains:read does not check.
    reader = token_for(personas.alice, ["domains:read"])
    problem_of(_send(client, "POST", url, {"label": "goed", "tld": "nl"}, reader), 403, "forbidden")

    # The shop's limit per address: over it, 429 with Retry-After, and nothing asked.
    keys = [throttle.key_for(CHECK_ADDRESS, "127.0.0.1")]
    for _ in range(CHECK_ADDRESS.limit):
        throttle.throttle_fail(keys=keys)
    limited = _send(client, "POST", url, {"label": "nog-een", "tld": "nl"}, token)
    problem_of(limited, 429, "rate-limited")
    assert int(limited["Retry-After"]) > 0
    assert len(registries_local.registry.received) == asked


def test_nameservers_change_at_the_registry_or_nothing_changes(
    client, personas: Personas, registries_local: epp_local.Running
) -> None:
    registration_id = registered_at_registry_kwargs(personas)["registration_id"]
    record = registries_local.registry.domains["alice-registry.nl"]
    token = token_for(personas.alice, ["domains:write"])
    url = f"/api/v1/domains/{registration_id}/nameservers"
    new = ["ns1.voorbeeld.nl", "NS2.voorbeeld.nl."]

    sent = len(registries_local.registry.received)
    one = problem_of(
        _send(client, "PUT", url, {"nameservers": ["ns1.voorbeeld.nl"]}, token), 422, "invalid"
    )
    assert one["detail"] == "Geef minstens 2 en hoogstens 13 verschillende naamservers."
    assert one["errors"][0]["field"] == "nameservers"
    problem_of(
        _send(client, "PUT", url, {"nameservers": "ns1.voorbeeld.nl"}, token), 422, "invalid"
    )
    problem_of(_send(client, "PUT", url, {"nameservers": new, "ttl": 60}, token), 422, "invalid")
    problem_of(
        _send(client, "PUT", url, {"nameservers": ["-fout-", "ns2.a.nl"]}, token), 422, "invalid"
    )
    assert len(registries_local.registry.received) == sent
    problem_of(
        _send(client, "PUT", url, {"nameservers": new}, token_for(personas.bob, ["domains:write"])),
        404,
        "not-found",
    )
    problem_of(
        _send(
            client, "PUT", url, {"nameservers": new}, token_for(personas.alice, ["domains:read"])
        ),
        403,
        "forbidden",
    )

    done = _send(client, "PUT", url, {"nameservers": new}, token)
    assert done.status_code == 200, done.content
    assert json.loads(done.content)["nameservers"] == ["ns1.voorbeeld.nl", "ns2.voorbeeld.nl"]
    assert record.nameservers == ["ns1.voorbeeld.nl", "ns2.voorbeeld.nl"]
    assert AuditEntry.objects.filter(action="domains.nameservers_changed").count() == 1

    # The registry refuses: its own words, in English when asked, and nothing stored.
    record.statuses.append("clientUpdateProhibited")
    other = {"nameservers": ["ns3.voorbeeld.nl", "ns4.voorbeeld.nl"]}
    refused = problem_of(_send(client, "PUT", url, other, token), 422, "refused")
    assert "SIDN weigerde de wijziging" in refused["detail"] and "2304" in refused["detail"]
    english = _send(client, "PUT", url, other, token, HTTP_ACCEPT_LANGUAGE="en")
    assert "SIDN refused the change" in problem_of(english, 422, "refused")["detail"]
    stored = DomainRegistration.objects.get(pk=registration_id)
    assert stored.nameservers == ["ns1.voorbeeld.nl", "ns2.voorbeeld.nl"]


def test_the_auth_code_goes_to_the_accounts_own_address_only(
    client, personas: Personas, registries_local: epp_local.Running
) -> None:
    registration_id = registered_at_registry_kwargs(personas)["registration_id"]
    record = registries_local.registry.domains["alice-registry.nl"]
    old = record.auth_pw
    token = token_for(personas.alice, ["domains:write"])
    url = f"/api/v1/domains/{registration_id}/auth-code"

    problem_of(_send(client, "POST", url, {"send_to": "x@example.org"}, token), 422, "invalid")
    assert record.auth_pw == old
    answer = _send(client, "POST", url, "", token, HTTP_IDEMPOTENCY_KEY="code-1")
    assert answer.status_code == 202, answer.content
    assert json.loads(answer.content) == {"sent_to": "account"}
    assert record.auth_pw not in answer.content.decode()
    assert record.auth_pw != old
    again = _send(client, "POST", url, "", token, HTTP_IDEMPOTENCY_KEY="code-1")
    assert again.status_code == 202
    assert OutboxMessage.objects.filter(dedupe_key__startswith="domains:authcode:").count() == 1
    mail.outbox.clear()
    assert deliver_due(worker="test").sent == 1
    (sent,) = mail.outbox
    assert sent.to == ["alice@example.nl"]
    assert record.auth_pw in str(sent.body)
