"""Secrets at rest: AES-256-GCM (``cryptography``), a fresh 96-bit nonce per write, the row's identity (owner,
name, workflow, org) as associated data so a ciphertext cannot be moved to another row. Keys come newest first
(``[api].secrets_key_file`` / ``secrets_key_env``): the first encrypts, any decrypts (found by its id, the first
8 bytes of its SHA-256), and `rotate` re-encrypts every row under the newest — add a key at the top, restart,
rotate, then drop the old one. Values are never returned by the API nor logged.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hourglass_cli.api.store import SecretRow, SqliteApiStore
from hourglass_cli.errors import HourglassError


class SecretsKeyError(HourglassError):
    """A stored secret cannot be decrypted with the configured keys."""

    default_hint = "the key that encrypted it must be listed in [api].secrets_key_file / secrets_key_env"


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def _aad(owner: str, name: str, workflow_id: str, org_id: str) -> bytes:
    return "\x00".join(("hourglass-secret-v1", owner, name, workflow_id, org_id)).encode()


class SecretBox:
    """Encrypts and decrypts secret values with the configured keys."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise SecretsKeyError("no secrets key is configured")
        self._keys = {key_id(k): AESGCM(k) for k in keys}
        self.current = key_id(keys[0])

    def seal(self, owner: str, name: str, workflow_id: str, org_id: str, value: str) -> tuple[str, bytes, bytes]:
        """(key id, nonce, ciphertext) of a value."""
        nonce = os.urandom(12)
        sealed = self._keys[self.current].encrypt(nonce, value.encode(), _aad(owner, name, workflow_id, org_id))
        return self.current, nonce, sealed

    def open(self, row: SecretRow) -> str:
        box = self._keys.get(row.key_id)
        if box is None:
            raise SecretsKeyError(f"secret {row.name!r} was encrypted with key {row.key_id}, which is not configured")
        try:
            return box.decrypt(row.nonce, row.ciphertext, _aad(row.owner, row.name, row.workflow_id,
                                                               row.org_id)).decode()
        except InvalidTag:
            raise SecretsKeyError(f"secret {row.name!r} does not decrypt (its row was altered)") from None

    def rotate(self, store: SqliteApiStore) -> int:
        """Re-encrypt every secret not under the newest key; how many were."""
        done = 0
        for row in store.all_secrets():
            if row.key_id == self.current:
                continue
            key, nonce, sealed = self.seal(row.owner, row.name, row.workflow_id, row.org_id, self.open(row))
            store.reencrypt_secret(SecretRow(row.owner, row.name, row.workflow_id, row.org_id, key, nonce, sealed,
                                             row.created_at, row.updated_at, row.created_by))
            done += 1
        return done
