import pytest

from kluis.accounts.models import Customer
from kluis.audit.models import AuditEntry, RevealRecord
from kluis.policy.enforce import Actor, PolicyViolation
from kluis.vault.errors import RevealRefused
from kluis.vault.fields import SealedValue
from kluis.vault.keys import key_scope
from kluis.vault.reveal import reveal_many
from kluis.vault.tests.helpers import make_customer

pytestmark = pytest.mark.django_db(databases="__all__")

ORDERS = Actor.staff("u-orders", {"orders"})


def test_a_sealed_attribute_reads_as_an_opaque_value():
    customer = Customer.objects.get(pk=make_customer(name="Marieke de Vries").pk)
    assert isinstance(customer.name, SealedValue)
    assert "Marieke" not in str(customer.name)
    assert "Marieke" not in repr(customer.name)


def test_the_database_holds_ciphertext_not_the_value():
    customer = make_customer(name="Marieke de Vries")
    raw = Customer.objects.filter(pk=customer.pk).values_list("name", flat=True).get()
    assert b"Marieke" not in bytes(raw)
    assert bytes(raw)[:1] == b"\x01"


def test_a_declared_purpose_reveals_the_value_for_an_allowed_role():
    customer = Customer.objects.get(pk=make_customer(name="Marieke de Vries").pk)
    plain = customer.name.reveal(purpose="order_status", actor=ORDERS)
    assert plain == "Marieke de Vries"


def test_a_value_copied_to_another_row_does_not_open():
    first = make_customer(name="Eerste")
    second = make_customer(name="Tweede")
    raw = Customer.objects.filter(pk=first.pk).values_list("name", flat=True).get()
    Customer.objects.filter(pk=second.pk).update(name=raw)
    moved = Customer.objects.get(pk=second.pk)
    with pytest.raises(Exception, match=r"does not open|no key"):
        moved.name.reveal(purpose="order_status", actor=ORDERS)


def test_the_blind_index_finds_an_exact_match_whatever_the_case():
    customer = make_customer(email="Piet@Example.NL")
    index = Customer._meta.get_field("email_index")
    found = Customer.objects.filter(email_index=index.lookup_value("  piet@example.nl")).get()
    assert found.pk == customer.pk
    assert "piet" not in found.email_index


def test_a_sealed_field_cannot_be_searched_by_its_value():
    with pytest.raises(PolicyViolation, match="blind index"):
        Customer.objects.filter(name="Jan Jansen").count()


def test_assigning_a_new_value_reseals_and_updates_the_index():
    customer = make_customer(email="oud@example.nl")
    customer.email = "nieuw@example.nl"
    customer.save()
    index = Customer._meta.get_field("email_index")
    assert not Customer.objects.filter(email_index=index.lookup_value("oud@example.nl")).exists()
    reloaded = Customer.objects.get(email_index=index.lookup_value("nieuw@example.nl"))
    assert reloaded.email.reveal(purpose="order_status", actor=ORDERS) == ("nieuw@example.nl")


def test_reveal_many_opens_many_rows_and_writes_one_audit_entry():
    customers = [make_customer(name=f"Klant {i}") for i in range(30)]
    before = AuditEntry.objects.count()
    rows = list(Customer.objects.filter(pk__in=[c.pk for c in customers]).order_by("number"))
    with key_scope():
        values = reveal_many(rows, ["name", "email"], purpose="order_status", actor=ORDERS)
    assert [v["name"] for v in values] == [f"Klant {i}" for i in range(30)]
    assert AuditEntry.objects.count() == before + 1
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry.action == "vault.reveal"
    assert "Klant" not in entry.payload
    assert RevealRecord.objects.filter(audit_seq=entry.seq).count() == 30


def test_reveal_many_refuses_a_role_the_purpose_does_not_allow():
    rows = [make_customer()]
    with pytest.raises(RevealRefused):
        reveal_many(
            rows,
            ["name"],
            purpose="order_status",
            actor=Actor.staff("u-admin", {"admin"}),
        )


def test_refresh_from_db_takes_the_stored_value():
    customer = make_customer(name="Voor")
    Customer.objects.filter(pk=customer.pk).update(
        name=Customer.objects.filter(pk=make_customer(name="Na").pk)
        .values_list("name", flat=True)
        .get()
    )
    customer.name = "Lokaal"
    customer.refresh_from_db(fields=["name"])
    # The token now stored belongs to another row, so it must not open here.
    with pytest.raises(Exception, match=r"does not open|no key"):
        customer.name.open()
    fresh = make_customer(name="Vers")
    fresh.name = "Gewijzigd"
    fresh.save()
    fresh.refresh_from_db()
    assert fresh.name.reveal(purpose="order_status", actor=ORDERS) == "Gewijzigd"


def test_a_loaded_row_keeps_its_sealed_columns_without_the_descriptors_setattr(monkeypatch):
    """A row read from the database stores its sealed columns as they came: no Python
    setattr per sealed value (the bulk read's cost), and a post_init receiver still
    sees the whole row; a read with deferred columns takes Django's own path."""
    from django.db.models.signals import post_init

    from kluis.vault.fields import SealedDescriptor

    customer = make_customer(name="Marieke de Vries", company_name="Tulp BV")
    assigned: list[object] = []
    setter = SealedDescriptor.__set__

    def counting(self, instance, value):
        assigned.append(value)
        setter(self, instance, value)

    monkeypatch.setattr(SealedDescriptor, "__set__", counting)
    seen: list[object] = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.__dict__.get("name"))

    post_init.connect(receiver, sender=Customer)
    try:
        loaded = Customer.objects.get(pk=customer.pk)
    finally:
        post_init.disconnect(receiver, sender=Customer)
    assert assigned == []
    assert isinstance(seen[0], bytes) and seen[0][:1] == b"\x01"
    assert loaded.name.reveal(purpose="order_status", actor=ORDERS) == "Marieke de Vries"
    assert loaded.kvk_number is None
    assert not loaded._state.adding and loaded._state.db == "default"
    # Only some columns: the others are deferred, and read when asked for.
    partial = Customer.objects.only("number", "name").get(pk=customer.pk)
    assert partial.name.reveal(purpose="order_status", actor=ORDERS) == "Marieke de Vries"
    assert "company_name" in partial.get_deferred_fields()
    assert partial.company_name.open() == "Tulp BV"
