"""Passkeys: the WebAuthn ceremonies' checks, and the pages around them.

Responses come from a software authenticator (tests/authenticator.py) that answers
the options kluis hands out as a browser and an authenticator would; each attack
bends one part of an otherwise valid response.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from kluis.accounts import passkeys, services, webauthn
from kluis.accounts.models import Passkey, User
from kluis.accounts.passkey_views import SESSION_LOGIN
from kluis.accounts.tests.authenticator import SoftAuthenticator, b64url
from kluis.audit.models import AuditEntry
from kluis.testing import PASSWORD, log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")

BASE = "https://mijn.winkeltjes.test"
RP_ID = "mijn.winkeltjes.test"


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.KLUIS_BASE_URL = BASE
    settings.ALLOWED_HOSTS = [RP_ID, "testserver", "aanvaller.test"]


def _actions() -> list[str]:
    return list(AuditEntry.objects.values_list("action", flat=True))


def _audit_data(action: str) -> dict[str, object]:
    entry = AuditEntry.objects.filter(action=action).order_by("-seq").first()
    assert entry is not None, action
    data = json.loads(entry.payload)["data"]
    assert isinstance(data, dict)
    return data


def _register(user: User, authenticator: SoftAuthenticator, name: str = "laptop") -> Passkey:
    options, challenge = passkeys.registration_begin(user=user)
    response = authenticator.create(options, origin=BASE)
    return passkeys.passkey_register(user=user, name=name, response=response, challenge=challenge)


def _login(user: User, authenticator: SoftAuthenticator, **bend: object):
    begun = passkeys.login_begin(user=user)
    assert begun is not None
    options, challenge = begun
    origin = str(bend.pop("origin", BASE))
    response = authenticator.get(options, origin=origin, **bend)
    return passkeys.passkey_login_check(
        user=user, response=response, challenge=challenge, client_address="192.0.2.7"
    )


# --- registration ---------------------------------------------------------------------


def test_a_registered_passkey_keeps_only_the_public_key_and_a_sealed_name(personas):
    authenticator = SoftAuthenticator(transports=("usb", "nfc", "smoke-signal"))
    passkey = _register(personas.alice, authenticator, name="sleutelhanger van Alice")
    row = Passkey.objects.get(pk=passkey.pk)
    assert bytes(row.credential_id) == authenticator.credential_id
    assert bytes(row.public_key) == authenticator.cose_key()
    assert row.transports == ["nfc", "usb"]  # unknown transports are dropped
    assert b"Alice" not in bytes(row.__dict__["name"])
    [listed] = passkeys.passkeys_listed(personas.alice)
    assert listed.name == "sleutelhanger van Alice" and listed.last_used_at is None
    assert _audit_data("accounts.passkey_registered")["passkey"] == str(passkey.pk)
    assert services.mfa_enabled(personas.alice)


def test_the_options_name_the_relying_party_of_the_base_url_and_ask_user_verification(
    personas,
):
    options, _challenge = passkeys.registration_begin(user=personas.alice)
    assert options["rp"] == {"id": RP_ID, "name": "winkeltjes.net"}
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    customer = personas.alice.customer
    assert customer is not None
    assert options["user"]["name"] == customer.number  # no email address on the device
    assert "alice" not in json.dumps(options)


def test_registration_from_another_origin_is_refused_and_audited(personas):
    options, challenge = passkeys.registration_begin(user=personas.alice)
    response = SoftAuthenticator().create(options, origin="https://winkeltjes.test.aanvaller.test")
    with pytest.raises(webauthn.CeremonyError):
        passkeys.passkey_register(
            user=personas.alice, name="x", response=response, challenge=challenge
        )
    assert not Passkey.objects.exists()
    assert "origin" in str(_audit_data("accounts.passkey_register_failed")["reason"])


def test_registration_for_another_relying_party_is_refused(personas):
    options, challenge = passkeys.registration_begin(user=personas.alice)
    response = SoftAuthenticator().create(options, origin=BASE, rp_id="aanvaller.test")
    with pytest.raises(webauthn.CeremonyError, match="RP ID"):
        passkeys.passkey_register(
            user=personas.alice, name="x", response=response, challenge=challenge
        )
    assert not Passkey.objects.exists()


def test_registration_without_user_verification_is_refused(personas):
    options, challenge = passkeys.registration_begin(user=personas.alice)
    response = SoftAuthenticator().create(options, origin=BASE, uv=False)
    with pytest.raises(webauthn.CeremonyError, match="verif"):
        passkeys.passkey_register(
            user=personas.alice, name="x", response=response, challenge=challenge
        )


def test_registration_answering_another_challenge_is_refused(personas):
    options, challenge = passkeys.registration_begin(user=personas.alice)
    _other, other = passkeys.registration_begin(user=personas.alice)
    response = SoftAuthenticator().create(options, origin=BASE, challenge=other.value)
    with pytest.raises(webauthn.CeremonyError, match="challenge"):
        passkeys.passkey_register(
            user=personas.alice, name="x", response=response, challenge=challenge
        )


def test_one_authenticator_key_cannot_be_registered_twice(personas):
    authenticator = SoftAuthenticator()
    _register(personas.alice, authenticator)
    with pytest.raises(passkeys.PasskeyError):
        _register(personas.bob, authenticator)
    assert Passkey.objects.filter(user=personas.bob).count() == 0


def test_chromiums_extra_client_data_key_is_accepted(personas):
    options, challenge = passkeys.registration_begin(user=personas.alice)
    response = SoftAuthenticator().create(options, origin=BASE, extra=True)
    passkeys.passkey_register(user=personas.alice, name="x", response=response, challenge=challenge)
    assert Passkey.objects.filter(user=personas.alice).count() == 1


@pytest.mark.parametrize(
    "response",
    [
        "",
        "null",
        "[]",
        '{"rawId": "%%%"}',
        '{"id": "a", "rawId": "a", "response": {}}',
        "x" * 70000,
    ],
)
def test_garbage_is_a_refusal_not_an_error(personas, response):
    _options, challenge = passkeys.registration_begin(user=personas.alice)
    with pytest.raises(webauthn.CeremonyError):
        passkeys.passkey_register(
            user=personas.alice, name="x", response=response, challenge=challenge
        )


# --- login ----------------------------------------------------------------------------


def test_a_passkey_login_verifies_and_moves_the_counter(personas):
    authenticator = SoftAuthenticator()
    passkey = _register(personas.alice, authenticator)
    result = _login(personas.alice, authenticator)
    assert result.device is not None and result.device.user_id == personas.alice.pk
    row = Passkey.objects.get(pk=passkey.pk)
    assert row.sign_count == 1 and row.last_used_at is not None
    assert _audit_data("accounts.passkey_used")["passkey"] == str(passkey.pk)


def test_a_login_from_another_origin_is_refused_and_audited(personas):
    authenticator = SoftAuthenticator()
    _register(personas.alice, authenticator)
    result = _login(personas.alice, authenticator, origin="https://aanvaller.test")
    assert result.device is None
    assert "origin" in str(_audit_data("accounts.passkey_failed")["reason"])


def test_a_login_signed_for_another_relying_party_is_refused(personas):
    authenticator = SoftAuthenticator()
    _register(personas.alice, authenticator)
    assert _login(personas.alice, authenticator, rp_id="aanvaller.test").device is None
    assert "RP ID" in str(_audit_data("accounts.passkey_failed")["reason"])


def test_a_login_without_user_verification_is_refused(personas):
    authenticator = SoftAuthenticator()
    _register(personas.alice, authenticator)
    assert _login(personas.alice, authenticator, uv=False).device is None


def test_a_login_answering_another_challenge_is_refused(personas):
    authenticator = SoftAuthenticator()
    _register(personas.alice, authenticator)
    begun = passkeys.login_begin(user=personas.alice)
    assert begun is not None
    options, challenge = begun
    older = passkeys.login_begin(user=personas.alice)
    assert older is not None
    response = authenticator.get(options, origin=BASE, challenge=older[1].value)
    result = passkeys.passkey_login_check(
        user=personas.alice, response=response, challenge=challenge, client_address="192.0.2.7"
    )
    assert result.device is None


def test_an_unknown_credential_is_refused(personas):
    _register(personas.alice, SoftAuthenticator())
    stranger = SoftAuthenticator()
    stranger.user_handle = webauthn.user_handle(personas.alice.pk)
    assert _login(personas.alice, stranger).device is None
    assert _audit_data("accounts.passkey_failed")["reason"] == "unknown credential"


def test_another_users_passkey_does_not_open_this_account(personas):
    _register(personas.alice, SoftAuthenticator())
    bobs = SoftAuthenticator()
    _register(personas.bob, bobs)
    # Bob's authenticator signs Alice's challenge with Bob's (valid, registered) key,
    # with Alice's user handle or with his own.
    assert _login(personas.alice, bobs).device is None
    assert (
        _login(personas.alice, bobs, user_handle=webauthn.user_handle(personas.alice.pk)).device
        is None
    )
    reasons = [
        json.loads(p)["data"]["reason"]
        for p in AuditEntry.objects.filter(action="accounts.passkey_failed").values_list(
            "payload", flat=True
        )
    ]
    assert reasons == ["unknown credential", "unknown credential"]


def test_a_user_handle_of_another_account_is_refused(personas):
    authenticator = SoftAuthenticator()
    _register(personas.alice, authenticator)
    result = _login(
        personas.alice, authenticator, user_handle=webauthn.user_handle(personas.bob.pk)
    )
    assert result.device is None


def test_a_counter_that_goes_back_blocks_the_passkey_as_a_likely_copy(personas):
    authenticator = SoftAuthenticator()
    passkey = _register(personas.alice, authenticator)
    assert _login(personas.alice, authenticator).device is not None
    assert _login(personas.alice, authenticator).device is not None
    authenticator.sign_count = 0  # the copy still counts from where it was copied
    result = _login(personas.alice, authenticator)
    assert result.device is None and result.clone_suspected
    assert Passkey.objects.get(pk=passkey.pk).clone_suspected_at is not None
    data = _audit_data("accounts.passkey_clone_suspected")
    assert (data["stored"], data["received"]) == (2, 1)
    # Blocked from then on, even with a counter that rises again.
    assert passkeys.login_begin(user=personas.alice) is None  # no longer offered
    authenticator.sign_count = 10
    options, challenge = webauthn.authentication_options(
        user_pk=personas.alice.pk, allowed=[(authenticator.credential_id, [])]
    )
    result = passkeys.passkey_login_check(
        user=personas.alice,
        response=authenticator.get(options, origin=BASE),
        challenge=challenge,
        client_address="192.0.2.7",
    )
    assert result.device is None
    assert "blocked" in str(_audit_data("accounts.passkey_failed")["reason"])


def test_a_passkey_without_a_counter_is_not_taken_for_a_copy(personas):
    authenticator = SoftAuthenticator(counter=False, synced=True)
    _register(personas.alice, authenticator)
    for _ in range(3):
        assert _login(personas.alice, authenticator).device is not None
    [listed] = passkeys.passkeys_listed(personas.alice)
    assert listed.backed_up


def test_passkey_failures_count_with_app_codes_in_one_throttle(personas):
    authenticator = SoftAuthenticator()
    _register(personas.alice, authenticator)
    for _ in range(5):
        assert _login(personas.alice, authenticator, origin="https://aanvaller.test").device is None
    blocked = _login(personas.alice, authenticator)
    assert blocked.device is None and blocked.blocked_seconds > 0
    # An app code is refused as well now: it is one step with one count.
    assert services.mfa_check(
        user=personas.alice, code="123456", client_address="x"
    ).blocked_seconds


# --- the pages: login -----------------------------------------------------------------


def _email(user: User) -> str:
    from kluis.policy.enforce import Actor

    return user.email.reveal(purpose="account_management", actor=Actor.system("test"))


def _password(client: Client, user: User) -> None:
    response = client.post(reverse("accounts:login"), {"email": _email(user), "password": PASSWORD})
    assert response["Location"] == reverse("accounts:login-mfa")


def test_a_customer_logs_in_with_a_passkey_instead_of_a_code(client, personas):
    authenticator = SoftAuthenticator()
    _register(personas.alice, authenticator)
    _password(client, personas.alice)
    page = client.get(reverse("accounts:login-mfa"))
    content = page.content.decode()
    assert 'data-passkey="login"' in content
    assert re.search(r'<script src="/static/accounts/passkeys\.[0-9a-f]+\.js" defer>', content)
    assert "<script>" not in content  # only the JSON data block and the file
    options = page.context["passkey_options"]
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(authenticator.credential_id)]
    response = client.post(
        reverse("accounts:login-passkey"),
        {"credential": authenticator.get(options, origin=BASE)},
    )
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    assert client.get(reverse("portal:home")).status_code == 200
    login = _audit_data("accounts.login")
    assert str(login["mfa"]).startswith("accounts.passkeydevice/")


def test_a_replayed_login_response_is_refused(client, personas):
    authenticator = SoftAuthenticator()
    _register(personas.alice, authenticator)
    _password(client, personas.alice)
    options = client.get(reverse("accounts:login-mfa")).context["passkey_options"]
    answer = authenticator.get(options, origin=BASE)
    first = client.post(reverse("accounts:login-passkey"), {"credential": answer})
    assert first.status_code == 302
    client.post(reverse("accounts:logout"))
    # The same answer again, in a new login with a new challenge: refused.
    _password(client, personas.alice)
    client.get(reverse("accounts:login-mfa"))
    again = client.post(reverse("accounts:login-passkey"), {"credential": answer})
    assert again.status_code == 200 and "_auth_user_id" not in client.session
    assert "lukte het inloggen niet" in again.content.decode()
    assert (
        _audit_data("accounts.passkey_failed")["reason"]
        == "Client data challenge was not expected challenge"
    )


def test_a_challenge_is_used_once_even_when_the_answer_fails(client, personas):
    authenticator = SoftAuthenticator()
    _register(personas.alice, authenticator)
    _password(client, personas.alice)
    options = client.get(reverse("accounts:login-mfa")).context["passkey_options"]
    bad = authenticator.get(options, origin="https://aanvaller.test")
    client.post(reverse("accounts:login-passkey"), {"credential": bad})
    # A good answer to the challenge that failed once is refused.
    late = authenticator.get(options, origin=BASE)
    response = client.post(reverse("accounts:login-passkey"), {"credential": late})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    reason = _audit_data("accounts.passkey_failed")["reason"]
    assert reason == "Client data challenge was not expected challenge"
    # The page that answered offers a new one, which works once.
    fresh = response.context["passkey_options"]
    answer = authenticator.get(fresh, origin=BASE)
    assert client.post(reverse("accounts:login-passkey"), {"credential": answer}).status_code == 302
    assert SESSION_LOGIN not in client.session


def test_without_a_kept_challenge_nothing_is_checked(client, personas):
    authenticator = SoftAuthenticator()
    _register(personas.alice, authenticator)
    _password(client, personas.alice)
    options = client.get(reverse("accounts:login-mfa")).context["passkey_options"]
    session = client.session
    session[SESSION_LOGIN]["at"] -= 301  # five minutes and a second later
    session.save()
    answer = authenticator.get(options, origin=BASE)
    response = client.post(reverse("accounts:login-passkey"), {"credential": answer})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert _audit_data("accounts.passkey_failed")["reason"] == "no challenge"


def test_the_relying_party_comes_from_the_base_url_not_the_host_header(client, personas):
    authenticator = SoftAuthenticator()
    _register(personas.alice, authenticator)
    _password(client, personas.alice)
    page = client.get(reverse("accounts:login-mfa"), HTTP_HOST="aanvaller.test")
    options = page.context["passkey_options"]
    assert options["rpId"] == RP_ID
    # A browser on the forged host signs its own origin; that answer is refused.
    answer = authenticator.get(options, origin="https://aanvaller.test", rp_id="aanvaller.test")
    response = client.post(
        reverse("accounts:login-passkey"), {"credential": answer}, HTTP_HOST="aanvaller.test"
    )
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_the_passkey_step_needs_a_password_first(client, personas):
    response = client.post(reverse("accounts:login-passkey"), {"credential": "{}"})
    assert response["Location"] == reverse("accounts:login")


def test_staff_log_in_with_a_passkey_where_the_app_is_required(client, db):
    staff = make_staff(roles=["orders"], mfa=False)
    authenticator = SoftAuthenticator()
    _register(staff, authenticator)
    _password(client, staff)
    options = client.get(reverse("accounts:login-mfa")).context["passkey_options"]
    response = client.post(
        reverse("accounts:login-passkey"), {"credential": authenticator.get(options, origin=BASE)}
    )
    assert response["Location"] == reverse("backoffice:home")
    assert client.get(reverse("backoffice:home")).status_code == 200


# --- the pages: registration and removal ----------------------------------------------


def test_new_staff_may_set_up_a_passkey_instead_of_an_app(client, db):
    newcomer = make_staff(roles=["orders"], mfa=False)
    log_in(client, newcomer)
    assert client.get(reverse("backoffice:home"))["Location"] == reverse("accounts:mfa-totp")
    assert reverse("accounts:passkeys") in client.get(reverse("accounts:mfa-totp")).content.decode()
    page = client.get(reverse("accounts:passkeys"))
    assert page.status_code == 200
    answer = SoftAuthenticator().create(page.context["passkey_options"], origin=BASE)
    response = client.post(
        reverse("accounts:passkeys"), {"name": "werklaptop", "credential": answer}
    )
    assert len(response.context["codes"]) == 10  # the first second factor brings recovery codes
    assert StaticDevice.objects.filter(user=newcomer).exists()
    assert client.get(reverse("backoffice:home")).status_code == 200


def test_adding_a_passkey_to_an_account_with_an_app_needs_a_verified_session(client, personas):
    TOTPDevice.objects.create(user=personas.alice, name="app", confirmed=True)
    log_in(client, personas.alice, verified=False)
    assert client.get(reverse("accounts:passkeys")).status_code == 403
    log_in(client, personas.alice)
    page = client.get(reverse("accounts:passkeys"))
    answer = SoftAuthenticator().create(page.context["passkey_options"], origin=BASE)
    response = client.post(reverse("accounts:passkeys"), {"name": "telefoon", "credential": answer})
    assert response["Location"] == reverse("accounts:passkeys")
    listed = client.get(reverse("accounts:passkeys")).content.decode()
    assert "telefoon" in listed and "nog niet" in listed


def test_a_bad_name_is_a_form_error_and_no_passkey_is_kept(client, personas):
    log_in(client, personas.alice)
    page = client.get(reverse("accounts:passkeys"))
    answer = SoftAuthenticator().create(page.context["passkey_options"], origin=BASE)
    response = client.post(
        reverse("accounts:passkeys"), {"name": "laptop\u202e", "credential": answer}
    )
    assert response.status_code == 200 and response.context["form"].errors["name"]
    assert not Passkey.objects.exists()


def test_removing_a_passkey_asks_the_password_again(client, personas):
    authenticator = SoftAuthenticator()
    TOTPDevice.objects.create(user=personas.alice, name="app", confirmed=True)
    passkey = _register(personas.alice, authenticator)
    log_in(client, personas.alice)
    url = reverse("accounts:passkey-remove", kwargs={"passkey_id": passkey.pk})
    assert "laptop" in client.get(url).content.decode()
    wrong = client.post(url, {"password": "niet-mijn-wachtwoord"})
    assert wrong.status_code == 200 and Passkey.objects.filter(pk=passkey.pk).exists()
    assert "accounts.reauthentication_failed" in _actions()
    right = client.post(url, {"password": PASSWORD})
    assert right["Location"] == reverse("accounts:passkeys")
    assert not Passkey.objects.filter(pk=passkey.pk).exists()
    assert _audit_data("accounts.passkey_removed")["passkey"] == str(passkey.pk)
    assert services.mfa_enabled(personas.alice)  # the app stays


def test_another_customer_cannot_see_or_remove_a_passkey(client, personas):
    passkey = _register(personas.alice, SoftAuthenticator(), name="Alices werklaptop")
    log_in(client, personas.bob)
    url = reverse("accounts:passkey-remove", kwargs={"passkey_id": passkey.pk})
    assert client.get(url).status_code == 404
    assert client.post(url, {"password": PASSWORD}).status_code == 404
    assert Passkey.objects.filter(pk=passkey.pk).exists()
    bobs_page = client.get(reverse("accounts:passkeys")).content.decode()
    assert "Alices werklaptop" not in bobs_page and str(passkey.pk) not in bobs_page


def test_staff_cannot_remove_their_last_second_factor(client, db):
    staff = make_staff(roles=["orders"], mfa=False)
    passkey = _register(staff, SoftAuthenticator())
    with pytest.raises(passkeys.PasskeyError):
        passkeys.passkey_remove(user=staff, passkey=passkey)
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_a_customers_last_passkey_takes_the_recovery_codes_with_it(personas):
    passkey = _register(personas.alice, SoftAuthenticator())
    services.mfa_recovery_codes_generate(user=personas.alice)
    passkeys.passkey_remove(user=personas.alice, passkey=passkey)
    assert not services.mfa_enabled(personas.alice)
    assert not StaticDevice.objects.filter(user=personas.alice).exists()


def test_passkeys_go_with_the_account(personas):
    _register(personas.alice, SoftAuthenticator())
    personas.alice.delete()
    assert not Passkey.objects.exists()


def test_an_ip_address_base_url_offers_no_passkeys(client, personas, settings):
    settings.KLUIS_BASE_URL = "http://127.0.0.1:8000"
    log_in(client, personas.alice)
    page = client.get(reverse("accounts:passkeys"))
    assert page.status_code == 200 and "passkey_options" not in page.context


# --- the policy says so -----------------------------------------------------------------


def test_the_statement_and_the_register_declare_passkeys(client):
    from kluis.policy.loader import current_policy
    from kluis.policy.register import build_register, register_csv

    policy = current_policy()
    category = policy.categories["kluis.passkey"]
    assert category.retention == "account"  # removed with the account
    assert policy.retention["account"].trigger.value == "account_closed"
    assert "kluis.passkey" in policy.purposes["account_management"].categories
    field = Passkey._meta.get_field("name")
    assert getattr(field, "category", None) == "kluis.passkey"
    dutch = client.get(reverse("policy:statement", kwargs={"lang": "nl"})).content.decode()
    english = client.get(reverse("policy:statement", kwargs={"lang": "en"})).content.decode()
    assert "Het geheime deel van de sleutel blijft" in dutch
    assert "The secret part of the key stays on your device" in english
    assert "passkey" in policy.changes.nl
    rows = list(csv.reader(io.StringIO(register_csv(build_register(policy, "nl")))))
    [account] = [row for row in rows if row[0] == "account_management"]
    assert "passkeys: versleuteld in kluis" in " ".join(account)
    assert "passkeys" in " ".join(next(row for row in rows if row[0] == "data_subject_rights"))
