"""Secrets that must be usable again (webhook signing keys) are stored encrypted.

Fernet (AES-128-CBC with HMAC-SHA256: authenticated, so a tampered or foreign token is refused,
never decrypted into garbage) under ``MultiFernet``: the first of ``DRIFTGUARD_SECRETS_KEY``
encrypts, every one decrypts, and :meth:`SecretCipher.rotate` re-encrypts under the first.

Outside production, with no ``DRIFTGUARD_SECRETS_KEY``, the key is derived from the configured
JWT secret with HKDF-SHA256, and it also stays accepted for decryption once keys are configured,
so a development database moves to its own key with ``driftguard secrets rotate``. Production
refuses to start without ``DRIFTGUARD_SECRETS_KEY`` and never uses the derived key.

A missing key, or a stored secret that no configured key opens, is an :class:`UnavailableError`
(a server configuration problem: 503 in the API, exit code 7 in the CLI) whose message names
the setting and never the secret.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from driftguard.errors import ErrorDetail, UnavailableError
from driftguard.settings import FERNET_KEY_BYTES, Environment, Settings

# HKDF's context: a key derived for this purpose is useless for any other.
DERIVATION_INFO = b"driftguard/secrets-at-rest/v1"
SETTING = "DRIFTGUARD_SECRETS_KEY"


class SecretsKeyError(UnavailableError):
    """No key to encrypt with, or none of the configured keys opens a stored secret."""


@dataclass(frozen=True, slots=True)
class SecretCipher:
    """Encrypts under the first key, decrypts under any. Without keys, every use raises
    :class:`SecretsKeyError` (so callers check permissions before the key is wanted)."""

    fernet: MultiFernet | None

    def _keys(self) -> MultiFernet:
        if self.fernet is None:
            raise SecretsKeyError(
                f"no key to encrypt stored secrets: set {SETTING} (or, outside production, "
                "DRIFTGUARD_JWT_SECRET, from which one is derived)",
                code="secrets_key_missing",
                details=[ErrorDetail(loc=SETTING, msg="is not set")],
            )
        return self.fernet

    def encrypt(self, plaintext: str) -> str:
        """A secret encrypted under the first key, as a Fernet token."""
        return self._keys().encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The secret in a token, under whichever configured key opens it; refused when none
        does."""
        try:
            return self._keys().decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise _undecryptable() from exc

    def rotate(self, token: str) -> str:
        """The same secret encrypted under the first key."""
        try:
            return self._keys().rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise _undecryptable() from exc


def _undecryptable() -> SecretsKeyError:
    return SecretsKeyError(
        f"a stored secret cannot be decrypted with any key of {SETTING}: keep the key that "
        "encrypted it in the list (after the new one) until `driftguard secrets rotate` has run",
        code="secrets_key_mismatch",
        details=[ErrorDetail(loc=SETTING, msg="holds no key that opens the stored secret")],
    )


def new_key() -> str:
    """A fresh random key for ``DRIFTGUARD_SECRETS_KEY``."""
    return Fernet.generate_key().decode()


def derived_key(settings: Settings) -> str | None:
    """The key HKDF derives from the JWT secret, when one is configured (not random)."""
    if "jwt_secret" not in settings.model_fields_set:
        return None
    hkdf = HKDF(algorithm=hashes.SHA256(), length=FERNET_KEY_BYTES, salt=None, info=DERIVATION_INFO)
    material = hkdf.derive(settings.jwt_secret.get_secret_value().encode())
    return base64.urlsafe_b64encode(material).decode()


def secret_cipher(settings: Settings) -> SecretCipher:
    """The cipher of the configured keys (and, outside production, the derived one)."""
    keys = [key.get_secret_value() for key in settings.secrets_key]
    if settings.environment is not Environment.PRODUCTION:
        derived = derived_key(settings)
        if derived is not None and derived not in keys:
            keys.append(derived)
    return SecretCipher(MultiFernet([Fernet(key) for key in keys]) if keys else None)
