"""prediction blocks in two parts: decisions and features

A monitoring run reads each row's id, time, prediction and sensitive attributes (fairness,
performance) but takes drift from the blocks' stored counts; with one file per block it still
fetched every feature's bytes from the database (20 numeric features: about 90 % of a block).
New blocks keep the decisions in their own ``decisions`` column and the other features in
``features`` (``columns`` renamed). Stored blocks are not rewritten: a block without
``decisions`` keeps every column in ``features``, and readers take it whole.

On SQLite the table is rebuilt so that ``decisions`` comes before ``features`` (SQLite steps
through a row's earlier values to reach a later one).

Not safe for the previous release to keep serving while it runs (docs/deployment.md, upgrade
notes): that release reads ``columns`` as whole blocks, and this release also writes block
counts in a form it cannot read (``WindowCounts`` version 3, compressed). The downgrade puts
both back: it merges each split block's parts into one file and rewrites version-3 counts as
version 2, so the previous release runs on the downgraded database.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import json
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
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
_counts = sa.table(
    "prediction_block_counts",
    sa.column("block_id", BigId),
    sa.column("profile_id", sa.String()),
    sa.column("counts", sa.LargeBinary()),
)
_MERGE_BATCH = 64
_COUNTS_MAGIC = b"DGWC\x02"  # WindowCounts, versions 2 and 3 (driftguard.stats._counts)


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
    split = (
        bind.execute(
            sa.select(_blocks.c.id).where(_blocks.c.decisions.is_not(None)).order_by(_blocks.c.id)
        )
        .scalars()
        .all()
    )
    parts = sa.select(_blocks.c.id, _blocks.c.decisions, _blocks.c.features)
    for block_id, decisions, features in _batched(bind, parts, _blocks.c.id, split):
        merged = _merge(_decode(decisions), _decode(features))
        bind.execute(sa.update(_blocks).where(_blocks.c.id == block_id).values(features=merged))
    with op.batch_alter_table("prediction_blocks") as batch_op:
        batch_op.drop_column("decisions")
        batch_op.alter_column("features", new_column_name="columns")
    _counts_as_version_2(bind)


def _counts_as_version_2(bind: sa.Connection) -> None:
    block_ids = (
        bind.execute(sa.select(_counts.c.block_id).distinct().order_by(_counts.c.block_id))
        .scalars()
        .all()
    )
    rows = sa.select(_counts.c.block_id, _counts.c.profile_id, _counts.c.counts)
    for block_id, profile_id, data in _batched(bind, rows, _counts.c.block_id, block_ids):
        older = _version_2(data)
        if older is not None:
            bind.execute(
                sa.update(_counts)
                .where(_counts.c.block_id == block_id, _counts.c.profile_id == profile_id)
                .values(counts=older)
            )


def _batched(
    bind: sa.Connection, query: sa.Select[Any], key: sa.ColumnClause[Any], ids: Sequence[int]
) -> Iterator[Any]:
    """The rows of ``query`` whose ``key`` is in ``ids``, read ``_MERGE_BATCH`` ids at a time
    (a batch's blocks in memory, never the table's)."""
    for first in range(0, len(ids), _MERGE_BATCH):
        yield from bind.execute(query.where(key.in_(ids[first : first + _MERGE_BATCH]))).all()


def _version_2(data: bytes) -> bytes | None:
    """Version-3 counts as version 2 wrote them (an uncompressed int64 buffer); None for
    counts already in an older form."""
    if not data.startswith(_COUNTS_MAGIC):
        return None
    start = len(_COUNTS_MAGIC) + 4
    size = int.from_bytes(data[len(_COUNTS_MAGIC) : start], "little")
    header = json.loads(data[start : start + size].decode())
    if header.get("version") != 3:
        return None
    values = np.frombuffer(zlib.decompress(data[start + size :]), dtype=header.pop("dtype"))
    header["version"] = 2
    text = json.dumps(header).encode()
    body = values.astype("<i8").tobytes()
    return _COUNTS_MAGIC + len(text).to_bytes(4, "little") + text + body


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
