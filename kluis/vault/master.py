"""The master key ring, which wraps every data key and system secret.

It comes from KLUIS_MASTER_KEY (base64 of 32 bytes; a comma-separated list during a
rotation, the first one current) or from the key file, a small JSON document created
with mode 0600 by `manage.py vault_init` and never kept in the repository.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from kluis.vault.errors import MasterKeyError

KEY_BYTES = 32
NONCE_BYTES = 12


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"kluis-master-kid|" + key).hexdigest()[:16]


@dataclass(frozen=True)
class MasterKeyRing:
    current: str
    keys: dict[str, bytes]

    @functools.cached_property
    def _ciphers(self) -> dict[str, AESGCM]:
        return {kid: AESGCM(key) for kid, key in self.keys.items()}

    def wrap(self, secret: bytes, *, context: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        return self.current, nonce + self._ciphers[self.current].encrypt(nonce, secret, context)

    def unwrap(self, kid: str, blob: bytes, *, context: bytes) -> bytes:
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise MasterKeyError(
                f"a key is wrapped by master key {kid}, which is not in the key ring"
            )
        try:
            return cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context)
        except InvalidTag:
            raise MasterKeyError(f"master key {kid} does not open this wrapped key") from None

    def to_json(self) -> str:
        return json.dumps(
            {
                "current": self.current,
                "keys": {kid: base64.b64encode(k).decode() for kid, k in self.keys.items()},
            },
            indent=2,
        )


def _decode(raw: str, where: str) -> bytes:
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{where}: the master key is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{where}: the master key must be {KEY_BYTES} bytes, not {len(key)}")
    return key


def _from_env(raw: str) -> MasterKeyRing:
    keys = [_decode(part, "KLUIS_MASTER_KEY") for part in raw.split(",") if part.strip()]
    if not keys:
        raise MasterKeyError("KLUIS_MASTER_KEY is set but empty")
    return MasterKeyRing(current=key_id(keys[0]), keys={key_id(k): k for k in keys})


def _from_file(path: Path) -> MasterKeyRing:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise MasterKeyError(f"{path}: mode {mode:o} lets others read the master key; use 0600")
    try:
        doc = json.loads(path.read_text())
        keys = {kid: _decode(value, str(path)) for kid, value in doc["keys"].items()}
        current = doc["current"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise MasterKeyError(f"{path}: not a kluis master key file") from None
    for kid, key in keys.items():
        if key_id(key) != kid:
            raise MasterKeyError(f"{path}: key {kid} does not match its id")
    if current not in keys:
        raise MasterKeyError(f"{path}: the current key {current} is not in the file")
    return MasterKeyRing(current=current, keys=keys)


def write_key_file(path: Path, ring: MasterKeyRing, *, exclusive: bool = False) -> None:
    """Write the key ring atomically with mode 0600.

    With `exclusive`, an existing file wins: two processes starting at once on a fresh
    install end up sharing one key instead of each making their own.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(ring.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def generate_key_file(path: Path) -> MasterKeyRing:
    """Create the key file unless one exists; return whichever key is in it."""
    key = secrets.token_bytes(KEY_BYTES)
    write_key_file(
        path, MasterKeyRing(current=key_id(key), keys={key_id(key): key}), exclusive=True
    )
    return _from_file(path)


@functools.cache
def master_ring() -> MasterKeyRing:
    raw = os.environ.get("KLUIS_MASTER_KEY", "")
    if raw.strip():
        return _from_env(raw)
    path = Path(settings.KLUIS_MASTER_KEY_FILE)
    if path.exists():
        return _from_file(path)
    if settings.DEBUG:
        # Development and demo: a fresh checkout makes its own key on first use.
        return generate_key_file(path)
    raise MasterKeyError(
        f"no master key: set KLUIS_MASTER_KEY or run `manage.py vault_init` to create {path}"
    )


def reset_master_ring() -> None:
    master_ring.cache_clear()
