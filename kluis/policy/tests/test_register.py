"""The art. 30 record of processing: one row per purpose, staff only, safe as CSV."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from django.core.management import call_command
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice

from kluis.accounts.models import Customer, User
from kluis.policy.loader import current_policy
from kluis.policy.register import build_register, neutralise, register_csv
from kluis.policy.render import LEGAL_BASIS
from kluis.policy.schema import Text

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def customer_client(client):
    customer = Customer(number="K1", name="Anna de Klant")
    customer.save()
    user = User.objects.create_customer_user(
        customer=customer, email="anna@example.nl", password="een lang wachtwoord 1"
    )
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client):
    staff = User.objects.create_staff(
        email="pim@winkeltjes.net", password="een heel lang wachtwoord 1", roles=["privacy_officer"]
    )
    client.force_login(staff)
    # Staff pass a second factor before anything else; this one has.
    device = StaticDevice.objects.create(user=staff, name="test")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.mark.parametrize("url", ["/privacy/register/", "/privacy/register.csv"])
def test_an_anonymous_visitor_is_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "next=" in response["Location"]


@pytest.mark.parametrize("url", ["/privacy/register/", "/privacy/register.csv"])
def test_a_customer_is_refused(customer_client, url):
    assert customer_client.get(url).status_code == 403


def test_the_register_has_a_row_per_purpose_with_basis_and_retention(staff_client):
    policy = current_policy()
    response = staff_client.get("/privacy/register/")
    assert response.status_code == 200
    content = response.content.decode()
    rows = dict(re.findall(r'<tr data-purpose="([^"]+)">(.*?)</tr>', content, re.S))
    assert list(rows) == list(policy.purposes)
    for key, purpose in policy.purposes.items():
        row = rows[key]
        assert str(LEGAL_BASIS[purpose.legal_basis]) in row
        rule = policy.retention_for(purpose.categories[0])
        assert rule.duration.describe("nl") in row
    assert policy.controller.name in content
    text = html.unescape(content)
    security = policy.security
    for measure in (*security.organisational, *security.technical, *security.management):
        assert measure.label.nl in text
    assert 'src="/privacy/dataflow.svg?lang=nl' in content


def test_the_csv_has_a_row_per_purpose_with_every_art_30_column(staff_client):
    policy = current_policy()
    response = staff_client.get("/privacy/register.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = read_csv(response.content)
    for letter in "abcdefg":
        assert any(column.startswith(f"({letter})") for column in header), letter
    assert [row[0] for row in rows] == list(policy.purposes)
    basis = header.index("(b) Grondslag")
    retention = header.index("(f) Bewaartermijnen")
    where = header.index("Waar bewaard")
    for row, purpose in zip(rows, policy.purposes.values(), strict=True):
        assert row[basis].startswith(str(LEGAL_BASIS[purpose.legal_basis]))
        for key in purpose.categories:
            category = policy.categories[key]
            assert category.label.get("nl") in row[retention]
            assert category.label.get("nl") in row[where]
            assert policy.retention[category.retention].duration.describe("nl") in row[retention]


def test_transfers_outside_the_eu_are_listed_with_their_purpose():
    policy = current_policy()
    register = build_register(policy, "en")
    transfers = register.columns.index("(e) Transfers outside the EU")
    for row in register.rows:
        abroad = [
            r
            for r in policy.recipients.values()
            if row.key in r.purposes and r.location == "non-EU"
        ]
        cell = row.cells[transfers]
        if abroad:
            assert len(cell) == len(abroad)
            assert all(r.label.get("en") in line for r, line in zip(abroad, cell, strict=True))
        else:
            assert cell == ("none",)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_a_spreadsheet_would_run_is_neutralised(start):
    assert neutralise(f"{start}HYPERLINK(1)") == f"'{start}HYPERLINK(1)"
    assert neutralise("naam") == "naam"


def test_policy_text_that_looks_like_a_formula_is_neutralised_in_the_csv():
    policy = current_policy()
    key = next(iter(policy.purposes))
    purpose = policy.purposes[key].model_copy(
        update={"label": Text(nl='=HYPERLINK("http://x.example","klik")', en="=1+1")}
    )
    tampered = policy.model_copy(update={"purposes": {**policy.purposes, key: purpose}})
    header, first, *_ = read_csv(register_csv(build_register(tampered, "nl")).encode())
    cell = first[header.index("(b) Doel")]
    assert cell.startswith("'=HYPERLINK(")


def test_the_command_writes_the_csv(tmp_path):
    out = io.StringIO()
    call_command("policy_register_csv", stdout=out)
    assert len(read_csv(out.getvalue().encode())) == len(current_policy().purposes) + 1
    target = tmp_path / "register.csv"
    call_command("policy_register_csv", "--output", str(target), "--language", "en", stderr=out)
    header, *_ = read_csv(target.read_bytes())
    assert "(b) Purpose" in header
