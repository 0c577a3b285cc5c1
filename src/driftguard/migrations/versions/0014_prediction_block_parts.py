"""prediction blocks in two parts: decisions and features

A monitoring run reads each row's id, time, prediction and sensitive attributes (fairness,
performance) but takes drift from the blocks' stored counts; with one file per block it still
fetched every feature's bytes from the database (20 numeric features: about 90 % of a block).
New blocks keep the decisions in their own ``decisions`` column and the other features in
``features`` (``columns`` renamed). Stored blocks are not rewritten: a block without
``decisions`` keeps every column in ``features``, and readers take it whole.

On SQLite the table is rebuilt so that ``decisions`` comes before ``features`` (SQLite steps
through a row's earlier values to reach a later one). The downgrade merges each split block's
parts back into one file.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.feather as feather
import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_blocks = sa.table(
    "prediction_blocks",
    sa.column("id", BigId),
    sa.column("decisions", sa.LargeBinary()),
    sa.column("features", sa.LargeBinary()),
)
_MERGE_BATCH = 64


def upgrade() -> None:
    decisions = sa.Column("decisions", sa.LargeBinary(), nullable=True)
    if op.get_context().dialect.name == "postgresql":
        op.alter_column("prediction_blocks", "columns", new_column_name="features")
        op.add_column("prediction_blocks", decisions)
        # Compressed already (see 0006); the partitions, present and future, take it too.
        op.execute("ALTER TABLE prediction_blocks ALTER COLUMN decisions SET STORAGE EXTERNAL")
        return
    with op.batch_alter_table("prediction_blocks", recreate="always") as batch_op:
        batch_op.alter_column("columns", new_column_name="features")
        batch_op.add_column(decisions, insert_before="columns")


def downgrade() -> None:
    bind = op.get_bind()
    split = bind.execute(
        sa.select(_blocks.c.id).where(_blocks.c.decisions.is_not(None)).order_by(_blocks.c.id)
    ).scalars().all()  # fmt: skip
    for first in range(0, len(split), _MERGE_BATCH):
        rows = bind.execute(
            sa.select(_blocks.c.id, _blocks.c.decisions, _blocks.c.features).where(
                _blocks.c.id.in_(split[first : first + _MERGE_BATCH])
            )
        ).all()
        for block_id, decisions, features in rows:
            merged = _merge(_decode(decisions), _decode(features))
            bind.execute(sa.update(_blocks).where(_blocks.c.id == block_id).values(features=merged))
    with op.batch_alter_table("prediction_blocks") as batch_op:
        batch_op.drop_column("decisions")
        batch_op.alter_column("features", new_column_name="columns")


def _decode(data: bytes) -> pa.Table:
    return feather.read_table(pa.BufferReader(data), memory_map=False)


def _merge(decisions: pa.Table, features: pa.Table) -> bytes:
    table = pa.table(
        {
            **{n: decisions.column(n) for n in decisions.column_names},
            **{n: features.column(n) for n in features.column_names},
        }
    )
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())
