from typing import Any

from django.db.models import Model

KEYSTORE = "keystore"


# Vault models that live beside the data they describe, not beside the keys.
MAIN_DATABASE_MODELS = frozenset({"blindindexgeneration", "shredrecord"})
# Secrets of other apps that must not be in a backup of the main database: the usage
# statistics' salt of each open day (kluis/usage/store.py).
KEYSTORE_MODELS = frozenset({("usage", "daysecret")})


class KeystoreRouter:
    """The vault's keys live in a database of their own; nothing else does."""

    def _db(self, model: type[Model]) -> str | None:
        if (model._meta.app_label, model._meta.model_name) in KEYSTORE_MODELS:
            return KEYSTORE
        if model._meta.app_label != "vault" or model._meta.model_name in MAIN_DATABASE_MODELS:
            return None
        return KEYSTORE

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return self._db(model)

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return self._db(model)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        if (obj1._meta.app_label == "vault") != (obj2._meta.app_label == "vault"):
            return False
        # `_meta` of the instances (a lazy object, such as request.user, has no class
        # of its own to ask).
        keystore = [
            (o._meta.app_label, o._meta.model_name) in KEYSTORE_MODELS for o in (obj1, obj2)
        ]
        if keystore[0] != keystore[1]:
            return False
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        if (app_label, hints.get("model_name")) in KEYSTORE_MODELS:
            return db == KEYSTORE
        if app_label == "vault" and hints.get("model_name") in MAIN_DATABASE_MODELS:
            return db != KEYSTORE
        return (db == KEYSTORE) == (app_label == "vault")
