"""Staff are known to colleagues by name and role, never by an id or an address."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from kluis.accounts import services
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_staff_member_reads_as_name_and_role():
    sanne = make_staff(roles=["finance"], name="Sanne de Boer")
    assert sanne.staff_label == "Sanne de Boer (financiële administratie)"


def test_the_staff_page_lists_names_and_roles_not_ids(client, personas):
    admin = personas.staff["admin"]
    sanne = make_staff(roles=["support"], name="Sanne de Boer")
    other_admin = make_staff(roles=["admin"], name="Noor Hendriks")
    # A privileged role waits for a second admin: the queue shows who and who asked.
    services.staff_roles_set(staff=sanne, roles=["support", "finance"], by=other_admin)
    log_in(client, admin)
    markup = client.get(reverse("backoffice:staff")).content.decode()
    page = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())  # what one reads
    assert "Sanne de Boer" in page
    assert "Noor Hendriks (beheerder)" in page  # who asked for the grant
    assert "financiële administratie" in page  # the role asked for, in words
    for member in (sanne, other_admin, admin):
        assert str(member.pk)[:8] not in page


def test_an_invited_staff_member_needs_a_name(client, personas):
    log_in(client, personas.staff["admin"])
    response = client.post(
        reverse("backoffice:staff"), {"email": "naamloos@winkeltjes.net", "roles": ["support"]}
    )
    assert response.status_code == 200
    assert "naam" in response.content.decode().casefold()
    from kluis.accounts.models import User

    assert User.objects.get_by_email("naamloos@winkeltjes.net") is None
