"""audit records name the key that sealed them

``audit_records.key_id``: the id of the audit key whose HMAC is the record's hash
(``driftguard.audit.keys``). Existing records keep no key id: they were sealed with plain
SHA-256 and still verify as such. The downgrade drops the column; a release from before it then
reports the first keyed record as altered, since it cannot check an HMAC (keep the newest
checkpoint from before the upgrade to vouch for the records up to it).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_records", sa.Column("key_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_records", "key_id")  # SQLite 3.35 and later drop columns in place
