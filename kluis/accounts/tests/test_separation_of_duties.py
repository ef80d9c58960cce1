"""Separation of duties, declared in the policy and enforced on every change of roles.

An outside test found that an admin could give itself any role in one step, privacy
officer and finance included, and could invite a second finance account of its own,
which defeats finance's four-eyes approval of refunds and hand-overs.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from kluis.accounts import services
from kluis.accounts.models import RoleGrant, User
from kluis.audit.models import AuditEntry
from kluis.policy.loader import current_policy
from kluis.policy.register import build_register
from kluis.policy.render import build_statement
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")


def _roles(user: User) -> set[str]:
    return set(User.objects.get(pk=user.pk).role_set)


@pytest.mark.parametrize("role", ["privacy_officer", "finance", "support"])
def test_an_admin_cannot_give_itself_a_role(personas, role):
    admin = personas.staff["admin"]
    with pytest.raises(services.DutiesRefused) as refused:
        services.staff_roles_set(staff=admin, roles=["admin", role], by=admin)
    assert refused.value.code == "own_roles"
    assert _roles(admin) == {"admin"}


def test_an_admin_cannot_give_itself_a_role_through_the_back_office(client, personas):
    admin = personas.staff["admin"]
    log_in(client, admin)
    url = reverse("backoffice:staff-roles", kwargs={"user_id": admin.pk})
    client.post(url, {"roles": ["admin", "privacy_officer", "finance"]})
    assert _roles(admin) == {"admin"}


def test_an_invited_finance_account_waits_for_a_second_admin(personas):
    admin, second = personas.staff["admin"], make_staff(roles=["admin"])
    invited = services.staff_invite(email="geld@winkeltjes.net", roles=["finance"], by=admin)
    assert _roles(invited) == set()
    grant = RoleGrant.objects.get(staff=invited)
    assert grant.role == "finance" and grant.requested_by == admin

    with pytest.raises(services.DutiesRefused) as refused:
        services.role_grant_decide(grant=grant, approve=True, by=admin)
    assert refused.value.code == "second_admin"
    assert _roles(invited) == set()

    services.role_grant_decide(grant=grant, approve=True, by=second)
    assert _roles(invited) == {"finance"}
    assert AuditEntry.objects.filter(action="accounts.role_grant_decided").count() == 1


def test_a_privileged_role_given_to_a_colleague_waits_and_a_plain_one_does_not(personas):
    admin = personas.staff["admin"]
    colleague = personas.staff["support"]
    grants = services.staff_roles_set(
        staff=colleague, roles=["support", "orders", "privacy_officer"], by=admin
    )
    assert [g.role for g in grants] == ["privacy_officer"]
    assert _roles(colleague) == {"support", "orders"}


@pytest.mark.parametrize(
    "roles", [["admin", "finance"], ["admin", "privacy_officer"], ["finance", "privacy_officer"]]
)
def test_incompatible_roles_are_refused_in_one_person(personas, roles):
    admin = personas.staff["admin"]
    with pytest.raises(services.DutiesRefused) as refused:
        services.staff_roles_set(staff=personas.staff["orders"], roles=roles, by=admin)
    assert refused.value.code == "incompatible"
    with pytest.raises(services.DutiesRefused):
        services.staff_invite(email="twee@winkeltjes.net", roles=roles, by=admin)
    assert User.objects.get_by_email("twee@winkeltjes.net") is None


def test_an_approval_that_would_join_incompatible_roles_is_refused(personas):
    admin, second = personas.staff["admin"], make_staff(roles=["admin"])
    target = make_staff(roles=["admin"])
    grant = RoleGrant.objects.create(staff=target, role="finance", requested_by=admin)
    with pytest.raises(services.DutiesRefused) as refused:
        services.role_grant_decide(grant=grant, approve=True, by=second)
    assert refused.value.code == "incompatible"
    assert _roles(target) == {"admin"}


def test_the_last_admin_cannot_be_removed_or_switched_off(personas):
    admin, orders = personas.staff["admin"], personas.staff["orders"]
    with pytest.raises(services.DutiesRefused) as refused:
        services.staff_roles_set(staff=admin, roles=["support"], by=orders)
    assert refused.value.code == "last_admin"
    with pytest.raises(services.DutiesRefused):
        services.user_deactivate(user=admin, by=orders)
    assert _roles(admin) == {"admin"} and User.objects.get(pk=admin.pk).is_active

    second = make_staff(roles=["admin"])
    services.staff_roles_set(staff=admin, roles=["support"], by=second)
    assert _roles(admin) == {"support"}


def test_the_back_office_shows_waiting_roles_to_the_other_admin_only(client, personas):
    admin, second = personas.staff["admin"], make_staff(roles=["admin"])
    invited = services.staff_invite(email="geld@winkeltjes.net", roles=["finance"], by=admin)
    grant = RoleGrant.objects.get(staff=invited)
    url = reverse("backoffice:role-grant-decide", kwargs={"grant_id": grant.pk})
    log_in(client, admin)
    assert url not in client.get(reverse("backoffice:staff")).content.decode()
    client.post(url, {"approve": "yes"})
    assert _roles(invited) == set()
    client.logout()
    log_in(client, second)
    assert url in client.get(reverse("backoffice:staff")).content.decode()
    assert client.post(url, {"approve": "yes"}).status_code == 302
    assert _roles(invited) == {"finance"}


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_statement_and_the_register_describe_the_rules_from_the_policy(language):
    policy = current_policy()
    statement = str(build_statement(policy, language))
    register = str(build_register(policy, language))
    for pair in policy.separation_of_duties.incompatible:
        reason = " ".join(pair.reason.get(language).split())
        assert reason[:60] in " ".join(statement.split())
        assert reason[:60] in " ".join(register.split())
        for role in pair.roles:
            assert policy.roles[role].label.get(language) in statement
