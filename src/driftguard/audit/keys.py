"""The keys of the audit chain: each record's hash is an HMAC under a key held outside the
database, so someone who can write to the database cannot re-seal a record they changed.

A key is named by its id, a fingerprint derived from the key (it reveals nothing of it), stored
on every record it sealed. Rotation: the first key of a :class:`AuditKeyring` seals new records;
every key in it verifies, so a retired key stays in the ring for as long as its records are
kept. Records written before the chain was keyed have no key id and a plain SHA-256 hash.

The ring travels with the session factory (``session.info``), set by the entry points that own
the settings: the audit package never reads settings itself.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

_INFO_KEY = "driftguard.audit_keyring"
# Domain separation: the same secret may also sign JWTs (the fallback when no audit key is set),
# so the record HMACs and the key id use keys derived from it, never the secret itself.
_CHAIN_LABEL = b"driftguard audit chain v1"
_ID_LABEL = b"driftguard audit key id v1"
KEY_ID_LENGTH = 16


@dataclass(frozen=True, slots=True)
class AuditKey:
    key_id: str
    chain_key: bytes  # seals records
    secret: bytes = b""  # signs checkpoints (as before keyed records existed)

    def __repr__(self) -> str:  # never print the key material
        return f"AuditKey(key_id={self.key_id!r})"


def derive_key(secret: bytes) -> AuditKey:
    """The audit key a configured secret stands for."""
    if not secret:
        raise ValueError("an audit key may not be empty")
    key_id = hmac.new(secret, _ID_LABEL, hashlib.sha256).hexdigest()[:KEY_ID_LENGTH]
    chain_key = hmac.new(secret, _CHAIN_LABEL, hashlib.sha256).digest()
    return AuditKey(key_id=key_id, chain_key=chain_key, secret=secret)


class AuditKeyring:
    """The configured keys, the sealing one first. Empty: records are written unkeyed."""

    def __init__(self, secrets: Sequence[bytes] = ()) -> None:
        self._keys = [derive_key(secret) for secret in secrets]
        self._by_id = {key.key_id: key for key in self._keys}

    @property
    def signing(self) -> AuditKey | None:
        """The key that seals new records and signs checkpoints."""
        return self._keys[0] if self._keys else None

    def get(self, key_id: str) -> AuditKey | None:
        """The key with this id (current or retired), or None when it is not configured."""
        return self._by_id.get(key_id)

    def __iter__(self) -> Iterator[AuditKey]:
        return iter(self._keys)

    def __bool__(self) -> bool:
        return bool(self._keys)

    def __repr__(self) -> str:
        return f"AuditKeyring({[key.key_id for key in self._keys]!r})"


NO_KEYS = AuditKeyring()


def bind_keyring(factory: sessionmaker[Session], keyring: AuditKeyring) -> sessionmaker[Session]:
    """Make every session of ``factory`` seal and verify audit records with ``keyring``."""
    info = dict(factory.kw.get("info") or {})
    info[_INFO_KEY] = keyring
    factory.configure(info=info)
    return factory


def keyring_of(session: Session) -> AuditKeyring:
    """The ring bound to the session's factory; without one, no keys."""
    keyring = session.info.get(_INFO_KEY)
    return keyring if isinstance(keyring, AuditKeyring) else NO_KEYS
