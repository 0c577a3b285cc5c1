"""webhook signing secrets encrypted at rest

The plain ``secret`` column becomes ``secret_encrypted`` (a Fernet token under the first key of
DRIFTGUARD_SECRETS_KEY, see ``driftguard.encryption``); existing rows are encrypted here and
decrypted again by the downgrade. A database with webhooks needs the key to migrate; one without
does not.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from driftguard.db.migrate import migration_settings
from driftguard.encryption import SecretCipher, secret_cipher

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "webhook_endpoints"


def _cipher() -> SecretCipher:
    return secret_cipher(migration_settings(context.config))


def _convert(source: str, target: str, column: sa.types.TypeEngine[str], encrypt: bool) -> None:
    """Add ``target``, fill it from ``source`` (encrypted or decrypted), drop ``source``.

    Plain ALTER TABLE, never a batch copy: on SQLite, dropping the copied table would cascade to
    the endpoints' deliveries. The new column gets a server default so SQLite can add it NOT
    NULL; PostgreSQL drops the default again (every row is written by the application)."""
    op.add_column(TABLE, sa.Column(target, column, server_default="", nullable=False))
    connection = op.get_bind()
    endpoints = sa.table(
        TABLE, sa.column("id", sa.Integer()), sa.column(source, sa.Text()),
        sa.column(target, sa.Text()),
    )  # fmt: skip
    rows = connection.execute(sa.select(endpoints.c.id, endpoints.c[source])).all()
    if rows:
        cipher = _cipher()
        change = cipher.encrypt if encrypt else cipher.decrypt
        connection.execute(
            endpoints.update()
            .where(endpoints.c.id == sa.bindparam("key"))
            .values({target: sa.bindparam("value")}),
            [{"key": key, "value": change(value)} for key, value in rows],
        )
    op.drop_column(TABLE, source)  # SQLite 3.35 and later drop columns in place
    if connection.dialect.name == "postgresql":
        op.alter_column(TABLE, target, server_default=None)


def upgrade() -> None:
    _convert("secret", "secret_encrypted", sa.Text(), encrypt=True)


def downgrade() -> None:
    _convert("secret_encrypted", "secret", sa.String(length=128), encrypt=False)
