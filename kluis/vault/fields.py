"""Sealed model fields.

A SealedField stores a personal value encrypted with AES-256-GCM under the data key of
its subject and retention class. The row's identity (model, primary key, field, key
scope) is bound in as associated data, so a sealed value copied to another row or
column does not open. Reading an attribute gives a SealedValue, never the plain text;
`reveal(purpose=..., actor=...)` checks the policy, audits, and only then decrypts.
"""

from __future__ import annotations

import base64
import operator
import os
import unicodedata
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from cryptography.exceptions import InvalidTag
from django.apps import apps
from django.db import models
from django.db.models.base import DEFERRED

from kluis.policy.cases import Case, check_case
from kluis.policy.enforce import Actor, PolicyViolation, check_reveal
from kluis.policy.loader import current_policy
from kluis.policy.schema import Policy
from kluis.vault import keys
from kluis.vault.errors import KeyShredded, RevealRefused, VaultError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TOKEN_VERSION = b"\x01"
NONCE_BYTES = 12


def _normalize_email(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().casefold()


def _normalize_text(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).split()).casefold()


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "email": _normalize_email,
    "text": _normalize_text,
    "vat": lambda v: "".join(v.split()).upper(),
}


class _Plain:
    """A value assigned in Python and not yet sealed (sealing happens on save)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value


class SealedModel(models.Model):
    """Base of every model with sealed fields.

    The primary key is a UUID made in Python, so a row knows its identity (and can
    bind it into the ciphertext) before it is first saved.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    vault_subject_field: ClassVar[str] = "id"
    # True: every key scope of a row carries the row's own period (`vault_period`),
    # not only in the classes kept per fiscal year; so one subject's rows of one class
    # can be kept, swept and shredded apart (a help request of a customer, say).
    vault_row_period: ClassVar[bool] = False

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Collection[Any]) -> Any:
        """A row as loaded: its sealed columns go into the instance as they came.

        Model.__init__ assigns every column through setattr, and a sealed column's
        setattr is SealedDescriptor.__set__, a Python call per value that, for a value
        from the database, only stores it. The sealed values are stored directly
        before __init__ runs (so a post_init receiver sees the whole row) and handed
        to __init__ as deferred; a row loaded with deferred columns takes Django's
        own path.
        """
        plan = _load_plans.get(cls) or _load_plan(cls)
        positions, attnames, pick = plan
        if len(values) != len(cls._meta.concrete_fields) or not positions:
            return super().from_db(db, field_names, values)
        new = cls.__new__(cls)
        new.__dict__.update(zip(attnames, pick(values), strict=True))
        args = list(values)
        for i in positions:
            args[i] = DEFERRED
        cls.__init__(new, *args)
        new._state.adding = False
        new._state.db = db
        return new

    def vault_subject(self) -> uuid.UUID:
        value = getattr(self, self.vault_subject_field)
        assert isinstance(value, uuid.UUID), f"{type(self).__name__} has no subject yet"
        return value

    @classmethod
    def vault_subject_q(cls, subject: uuid.UUID) -> models.Q:
        """The rows whose vault subject is `subject`; override with vault_subject()."""
        return models.Q(**{cls.vault_subject_field: subject})

    def vault_period(self, retention_class: str) -> str:
        """The fiscal year of this row, for classes kept per fiscal year (or the row's
        own period, for a model with `vault_row_period`)."""
        raise VaultError(
            f"{type(self).__name__} seals into per-year class {retention_class!r} "
            "but does not say which fiscal year a row belongs to"
        )


_LoadPlan = tuple[tuple[int, ...], tuple[str, ...], Callable[[Any], Any]]
_load_plans: dict[type[SealedModel], _LoadPlan] = {}


def _load_plan(
    cls: type[SealedModel],
) -> _LoadPlan:
    """Where a full row of `cls` has its sealed columns (for SealedModel.from_db)."""
    fields = cls._meta.concrete_fields
    positions = tuple(i for i, f in enumerate(fields) if isinstance(f, SealedField))
    attnames = tuple(fields[i].attname for i in positions)

    def one(values: Any) -> tuple[Any, ...]:
        return tuple(values[i] for i in positions)

    pick: Callable[[Any], Any] = operator.itemgetter(*positions) if len(positions) > 1 else one
    plan = _load_plans[cls] = (positions, attnames, pick)
    return plan


def period_in(row: SealedModel, retention_class: str, policy: Policy) -> str:
    """The period part of the key scope `row` seals into under `retention_class`."""
    if policy.retention[retention_class].per_fiscal_year or row.vault_row_period:
        return row.vault_period(retention_class)
    return ""


def _aad(instance: SealedModel, field: SealedField, scope: keys.KeyScope) -> bytes:
    return aad_for(instance._meta.label_lower, instance.pk, field.name, scope)


def aad_for(label: str, pk: object, field_name: str, scope: keys.KeyScope) -> bytes:
    """What a ciphertext is bound to: its row, its column and its key scope."""
    return f"{label}|{pk}|{field_name}|{scope.retention_class}|{scope.period}".encode()


def seal_for_row(
    label: str, pk: object, field_name: str, scope: keys.KeyScope, value: str
) -> bytes:
    """`value` sealed for the column `field_name` of the row `label`/`pk`, as pre_save
    would seal it: for data migrations, whose historical models are no SealedModel."""
    cipher = keys.cipher_for(scope, create=True)
    nonce = os.urandom(NONCE_BYTES)
    aad = aad_for(label, pk, field_name, scope)
    return TOKEN_VERSION + nonce + cipher.encrypt(nonce, value.encode(), aad)


def open_for_row(
    label: str, pk: object, field_name: str, scope: keys.KeyScope, token: bytes
) -> str:
    """The value `seal_for_row` sealed: for data migrations that seal a value anew."""
    cipher = keys.cipher_for(scope, create=False)
    return decrypt(cipher, bytes(token), aad_for(label, pk, field_name, scope))


class SealedValue:
    """What a sealed attribute reads as: opaque until revealed for a purpose."""

    __slots__ = ("_field", "_instance", "_plain", "_token")

    def __init__(
        self, instance: SealedModel, field: SealedField, token: bytes | None, plain: str | None
    ) -> None:
        self._instance = instance
        self._field = field
        self._token = token
        self._plain = plain

    @property
    def category(self) -> str:
        return self._field.category

    @property
    def subject(self) -> uuid.UUID:
        return self._instance.vault_subject()

    @property
    def scope(self) -> keys.KeyScope:
        return self._field.scope_for(self._instance)

    def reveal(self, *, purpose: str, actor: Actor, case: Case | None = None) -> str:
        authorize(self._field, self._instance, purpose=purpose, actor=actor, case=case)
        return self.open()

    def open(self, scope: keys.KeyScope | None = None) -> str:
        """Decrypt without a purpose check: for the vault's own use only."""
        if self._plain is not None:
            return self._plain
        assert self._token is not None
        scope = scope or self.scope
        cipher = keys.cipher_for(scope, create=False)
        return decrypt(cipher, self._token, _aad(self._instance, self._field, scope))

    def __str__(self) -> str:
        return "\u2022" * 8

    def __repr__(self) -> str:
        return f"<SealedValue {self._field.category} of {self._instance._meta.label}>"

    def __eq__(self, other: object) -> bool:
        raise TypeError("sealed values cannot be compared; use the blind index")

    __hash__ = None  # type: ignore[assignment]


def decrypt(cipher: AESGCM, token: bytes, aad: bytes) -> str:
    if token[:1] != TOKEN_VERSION:
        raise KeyShredded("unknown sealed-value format")
    try:
        plain = cipher.decrypt(token[1 : 1 + NONCE_BYTES], token[1 + NONCE_BYTES :], aad)
    except InvalidTag:
        raise KeyShredded("the sealed value does not open with its key") from None
    return plain.decode()


def authorize(
    field: SealedField,
    instance: SealedModel,
    *,
    purpose: str,
    actor: Actor,
    case: Case | None = None,
) -> None:
    from kluis.audit import reveals
    from kluis.vault.guards import RevealAsk, refusals

    subject = instance.vault_subject()
    try:
        check_reveal(category=field.category, purpose=purpose, actor=actor, subject=subject)
        # A separate step: for a case-bound purpose, staff need an open case of the person.
        check_case(purpose=purpose, actor=actor, subject=subject, case=case)
    except PolicyViolation as exc:
        reveals.record_refusal(
            actor=actor,
            purpose=purpose,
            category=field.category,
            subject=subject,
            reason=str(exc),
            case=case,
        )
        raise RevealRefused(str(exc)) from None
    ask = RevealAsk(frozenset({(field.category, field.retention_class())}), purpose, actor)
    refused = refusals([subject], ask).get(subject)
    if refused is not None:
        reveals.record_refusal(
            actor=actor,
            purpose=purpose,
            category=field.category,
            subject=subject,
            reason=refused,
            case=case,
        )
        raise RevealRefused(refused)
    reveals.record_reveal(
        actor=actor, purpose=purpose, category=field.category, subject=subject, case=case
    )


class SealedDescriptor:
    def __init__(self, field: SealedField) -> None:
        self.field = field

    def __get__(self, instance: SealedModel | None, owner: type) -> Any:
        if instance is None:
            return self
        attname = self.field.attname
        if attname not in instance.__dict__:
            instance.refresh_from_db(fields=[attname])
        raw = instance.__dict__[attname]
        if raw is None:
            return None
        if isinstance(raw, _Plain):
            return SealedValue(instance, self.field, None, raw.value)
        return SealedValue(instance, self.field, bytes(raw), None)

    def __set__(self, instance: SealedModel, value: Any) -> None:
        attname = self.field.attname
        kind = type(value)
        if kind is bytes or kind is memoryview:
            # Loaded from the database: the hot path of every read.
            instance.__dict__[attname] = value
            return
        if value is None or kind is bytearray:
            # From the database (or cleared).
            instance.__dict__[attname] = value
            if value is None:
                self.field.set_blind_index(instance, None)
            return
        if isinstance(value, SealedValue):
            if value._instance is instance and value._field is self.field:
                return
            if value._field is self.field and value._instance.pk == instance.pk:
                # The same row loaded again (refresh_from_db): take its fresh state.
                fresh = value._token if value._plain is None else _Plain(value._plain)
                instance.__dict__[attname] = fresh
                return
            raise TypeError("a sealed value belongs to its row; reveal it to copy it")
        if not isinstance(value, str):
            raise TypeError(f"{self.field.name} takes text, not {type(value).__name__}")
        instance.__dict__[attname] = _Plain(value)
        self.field.set_blind_index(instance, value)


class SealedField(models.BinaryField):  # type: ignore[type-arg]
    """A personal value, sealed under its subject's key for its retention class."""

    def __init__(
        self, *args: Any, category: str, retention: str | None = None, **kwargs: Any
    ) -> None:
        self.category = category
        self.retention = retention
        self.blind_index: BlindIndexField | None = None
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["category"] = self.category
        if self.retention is not None:
            kwargs["retention"] = self.retention
        return name, path, args, kwargs

    def contribute_to_class(
        self, cls: type[models.Model], name: str, private_only: bool = False
    ) -> None:
        super().contribute_to_class(cls, name, private_only=private_only)
        setattr(cls, self.attname, SealedDescriptor(self))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise PolicyViolation(
                f"sealed field {self.name} cannot be searched; use its blind index"
            )
        return super().get_lookup(lookup_name)

    def retention_class(self) -> str:
        return self.retention or current_policy().categories[self.category].retention

    def scope_for(self, instance: models.Model) -> keys.KeyScope:
        return self.scope_in(instance, current_policy())

    def scope_in(self, instance: models.Model, policy: Policy) -> keys.KeyScope:
        assert isinstance(instance, SealedModel)
        retention_class = self.retention or policy.categories[self.category].retention
        return _scope(instance, retention_class, policy)

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        raw = model_instance.__dict__.get(self.attname)
        if isinstance(raw, _Plain):
            assert isinstance(model_instance, SealedModel)
            scope = self.scope_for(model_instance)
            cipher = keys.cipher_for(scope, create=True)
            return self._seal(model_instance, raw.value, scope, cipher)
        return raw

    def _seal(
        self, instance: SealedModel, value: str, scope: keys.KeyScope, cipher: AESGCM
    ) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        aad = _aad(instance, self, scope)
        token = TOKEN_VERSION + nonce + cipher.encrypt(nonce, value.encode(), aad)
        instance.__dict__[self.attname] = token
        self.set_blind_index(instance, value)
        return token

    def value_from_object(self, obj: models.Model) -> Any:
        raw = obj.__dict__.get(self.attname)
        return raw.value if isinstance(raw, _Plain) else raw

    def set_blind_index(self, instance: models.Model, value: str | None) -> None:
        if self.blind_index is None:
            return
        digest = None
        if value is not None:
            digest = keys.blind_index(
                self.blind_index.kind, NORMALIZERS[self.blind_index.kind](value)
            )
        instance.__dict__[self.blind_index.attname] = digest


class SealedFileField(SealedField):
    """A sealed file: its bytes as base64 text in a sealed field, so it is sealed, swept
    and erased like any sealed value. Whatever shows a person's sealed values (the copy,
    "my data") gives such a value as a file, never as its base64 text; the row's
    `mimetype_field` says what kind of file it is. `export_name`, when given, is the
    file's name in the copy without its extension ("documenten/kvk-uittreksel"); else
    the copy numbers it."""

    def __init__(
        self, *args: Any, mimetype_field: str = "mimetype", export_name: str = "", **kwargs: Any
    ) -> None:
        self.mimetype_field = mimetype_field
        self.export_name = export_name
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.mimetype_field != "mimetype":
            kwargs["mimetype_field"] = self.mimetype_field
        if self.export_name:
            kwargs["export_name"] = self.export_name
        return name, path, args, kwargs

    def mimetype_of(self, instance: models.Model) -> str:
        return str(getattr(instance, self.mimetype_field))


def file_text(content: bytes) -> str:
    """What a SealedFileField holds for `content`."""
    return base64.b64encode(content).decode("ascii")


def file_bytes(text: str) -> bytes:
    """The file a SealedFileField's revealed value stands for."""
    return base64.b64decode(text.encode("ascii"), validate=True)


class BlindIndexField(models.CharField):  # type: ignore[type-arg]
    """The keyed exact-match index of a sealed field, kept up to date on assignment."""

    def __init__(self, *args: Any, source: str, kind: str = "text", **kwargs: Any) -> None:
        if kind not in NORMALIZERS:
            raise ValueError(f"unknown blind index kind {kind!r}")
        self.source = source
        self.kind = kind
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("db_index", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["kind"] = self.kind
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        # Model.__init__ assigns fields in declaration order, so this field's default
        # can land after its source was set; recompute from a not-yet-sealed source.
        raw = model_instance.__dict__.get(self.source)
        if isinstance(raw, _Plain):
            model_instance.__dict__[self.attname] = self.lookup_value(raw.value)
        return model_instance.__dict__.get(self.attname)

    def lookup_value(self, value: str) -> str:
        return keys.blind_index(self.kind, NORMALIZERS[self.kind](value))


def _scope(instance: SealedModel, retention_class: str, policy: Policy) -> keys.KeyScope:
    period = period_in(instance, retention_class, policy)
    return keys.KeyScope(instance.vault_subject(), retention_class, period)


def seal_pending(instances: Sequence[SealedModel], fields: Sequence[SealedField]) -> None:
    """Seal the assigned, not yet sealed values of many unsaved rows, as pre_save would
    one by one (their pre_save then has nothing left to do).

    For bulk writes: the data keys missing are created in one go, and each row's key
    scope and cipher are worked out once per retention class instead of per field.
    Needs an open key scope.
    """
    policy = current_policy()
    classes = [(f, f.retention or policy.categories[f.category].retention) for f in fields]
    pending: list[tuple[SealedModel, list[tuple[SealedField, str, keys.KeyScope]]]] = []
    scopes: set[keys.KeyScope] = set()
    for instance in instances:
        values = instance.__dict__
        mine: dict[str, keys.KeyScope] = {}
        work = []
        for field, retention_class in classes:
            raw = values.get(field.attname)
            if isinstance(raw, _Plain):
                scope = mine.get(retention_class)
                if scope is None:
                    scope = mine[retention_class] = _scope(instance, retention_class, policy)
                    scopes.add(scope)
                work.append((field, raw.value, scope))
        if work:
            pending.append((instance, work))
    keys.prefetch_or_create(scopes)
    ciphers = keys.cached_ciphers()
    for instance, work in pending:
        for field, value, scope in work:
            cipher = ciphers.get(scope)
            if cipher is None:
                cipher = keys.cipher_for(scope, create=True)  # raises if shredded
            field._seal(instance, value, scope, cipher)


def sealed_fields(model: type[models.Model]) -> list[SealedField]:
    return [f for f in model._meta.get_fields() if isinstance(f, SealedField)]


def connect_blind_indexes() -> None:
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, BlindIndexField):
                source = model._meta.get_field(field.source)
                if not isinstance(source, SealedField):
                    raise TypeError(f"{model.__name__}.{field.name} must index a sealed field")
                source.blind_index = field
