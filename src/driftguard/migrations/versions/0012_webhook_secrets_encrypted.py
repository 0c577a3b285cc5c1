"""webhook signing secrets encrypted at rest

The plain ``secret`` column becomes ``secret_encrypted`` (a Fernet token under the first key of
DRIFTGUARD_SECRETS_KEY, see ``driftguard.encryption``); existing rows are encrypted here and
decrypted again by the downgrade. A database with webhooks needs the key to migrate; one without
does not. The cipher is a frozen copy of ``encryption.secret_cipher`` at this revision, so the
tokens written here keep this revision's format whatever that module becomes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

import base64
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from driftguard.db.migrate import migration_settings
from driftguard.errors import ErrorDetail, UnavailableError

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "webhook_endpoints"
SETTING = "DRIFTGUARD_SECRETS_KEY"


def _cipher() -> MultiFernet:
    """The configured keys (and, outside production, the one derived from the JWT secret)."""
    settings = migration_settings(context.config)
    keys = [key.get_secret_value() for key in settings.secrets_key]
    if settings.environment != "production" and "jwt_secret" in settings.model_fields_set:
        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"driftguard/secrets-at-rest/v1"
        )
        material = hkdf.derive(settings.jwt_secret.get_secret_value().encode())
        derived = base64.urlsafe_b64encode(material).decode()
        if derived not in keys:
            keys.append(derived)
    if not keys:
        raise UnavailableError(
            f"no key to encrypt stored secrets: set {SETTING} (or, outside production, "
            "DRIFTGUARD_JWT_SECRET, from which one is derived)",
            code="secrets_key_missing",
            details=[ErrorDetail(loc=SETTING, msg="is not set")],
        )
    return MultiFernet([Fernet(key) for key in keys])


def _encrypt(cipher: MultiFernet, plaintext: str) -> str:
    return cipher.encrypt(plaintext.encode()).decode()


def _decrypt(cipher: MultiFernet, token: str) -> str:
    try:
        return cipher.decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise UnavailableError(
            f"a stored secret cannot be decrypted with any key of {SETTING}: keep the key that "
            "encrypted it in the list (after the new one) until `driftguard secrets rotate` has "
            "run",
            code="secrets_key_mismatch",
            details=[ErrorDetail(loc=SETTING, msg="holds no key that opens the stored secret")],
        ) from exc


def _convert(source: str, target: str, column: sa.types.TypeEngine[str], encrypt: bool) -> None:
    """Add ``target``, fill it from ``source`` (encrypted or decrypted), drop ``source``.

    Plain ALTER TABLE, never a batch copy: on SQLite, dropping the copied table would cascade to
    the endpoints' deliveries. The new column gets a server default so SQLite can add it NOT
    NULL; PostgreSQL drops the default again (every row is written by the application)."""
    op.add_column(TABLE, sa.Column(target, column, server_default="", nullable=False))
    connection = op.get_bind()
    endpoints = sa.table(
        TABLE,
        sa.column("id", sa.Integer()),
        sa.column(source, sa.Text()),
        sa.column(target, sa.Text()),
    )
    rows = connection.execute(sa.select(endpoints.c.id, endpoints.c[source])).all()
    if rows:
        cipher = _cipher()
        change: Callable[[MultiFernet, str], str] = _encrypt if encrypt else _decrypt
        connection.execute(
            endpoints.update()
            .where(endpoints.c.id == sa.bindparam("key"))
            .values({target: sa.bindparam("value")}),
            [{"key": key, "value": change(cipher, value)} for key, value in rows],
        )
    op.drop_column(TABLE, source)  # SQLite 3.35 and later drop columns in place
    if connection.dialect.name == "postgresql":
        op.alter_column(TABLE, target, server_default=None)


def upgrade() -> None:
    _convert("secret", "secret_encrypted", sa.Text(), encrypt=True)


def downgrade() -> None:
    _convert("secret_encrypted", "secret", sa.String(length=128), encrypt=False)
