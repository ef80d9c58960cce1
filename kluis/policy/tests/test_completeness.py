"""Every sealed field is declared in the policy; every declared category is used."""

from django.test.utils import isolate_apps

from kluis.accounts.models import Customer
from kluis.policy.completeness import completeness_problems
from kluis.vault.fields import SealedField, SealedModel


def test_the_code_and_the_policy_agree():
    assert completeness_problems() == []


@isolate_apps("kluis.accounts")
def test_an_undeclared_sealed_field_is_reported():
    class Pet(SealedModel):
        nickname = SealedField(category="user.pet_name")

        class Meta:
            app_label = "accounts"

    problems = completeness_problems([Customer, Pet])
    assert any("Pet.nickname" in p and "user.pet_name" in p for p in problems)


@isolate_apps("kluis.accounts")
def test_a_retention_class_the_category_does_not_declare_is_reported():
    class Note(SealedModel):
        phone = SealedField(category="user.contact.phone_number", retention="id_verification")

        class Meta:
            app_label = "accounts"

    problems = completeness_problems([Customer, Note])
    assert any("Note.phone" in p and "id_verification" in p for p in problems)


def test_a_sealed_category_no_field_uses_is_reported():
    from kluis.policy.loader import current_policy

    policy = current_policy()
    problems = completeness_problems([], policy)
    sealed = [k for k, c in policy.categories.items() if c.held.value == "sealed"]
    assert sealed
    for key in sealed:
        assert any(repr(key) in p for p in problems)
