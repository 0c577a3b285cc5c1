"""prediction storage partitioned by time on PostgreSQL; blocks cut at UTC midnight; labels
filed under their prediction's time; per-block counts outlive their blocks

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26

On PostgreSQL, ``prediction_blocks`` (by ``first_ts``) and ``prediction_labels`` (by ``ts``)
become range-partitioned tables: one partition per UTC day holding data, plus a DEFAULT
partition; existing rows are copied into them (the upgrade takes time in proportion to the
stored predictions). Later partitions are created ahead of time by the application's
maintenance (``driftguard.ingest.storage_maintenance``). SQLite keeps plain tables.

``prediction_records`` becomes the key table only (version, prediction id, time): nothing read
``block_id``/``row``, and a foreign key into a partitioned table would have to carry its
partition key. A block that spans midnight is split into one block per day, so every block
lies within one partition.
"""

from collections.abc import Sequence
from datetime import UTC, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import sqlalchemy as sa
from alembic import op

import driftguard.db.base
from driftguard.migrations.rebuild import labels_kept

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TS = driftguard.db.base.UTCDateTime(timezone=True)
# The columns a block's Arrow file keeps the prediction id and time in (ingest.frames).
BLOCK_ID, BLOCK_TS = ":id", ":ts"

_blocks = sa.table(
    "prediction_blocks",
    sa.column("id", BigId),
    sa.column("version_id", BigId),
    sa.column("first_ts", UTC_TS),
    sa.column("last_ts", UTC_TS),
    sa.column("row_count", sa.Integer()),
    sa.column("columns", sa.LargeBinary()),
    sa.column("received_at", UTC_TS),
)
_counts = sa.table("prediction_block_counts", sa.column("block_id", BigId))


def upgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    with op.batch_alter_table("prediction_labels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ts", UTC_TS, nullable=True))
    op.execute(
        "UPDATE prediction_labels SET ts = (SELECT r.ts FROM prediction_records r WHERE "
        "r.version_id = prediction_labels.version_id "
        "AND r.prediction_id = prediction_labels.prediction_id)"
    )
    with op.batch_alter_table("prediction_labels", schema=None) as batch_op:
        batch_op.alter_column("ts", nullable=False)
        batch_op.create_index("ix_prediction_labels_version_id_ts", ["version_id", "ts"])

    with labels_kept(), op.batch_alter_table("prediction_records", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_prediction_records_block_id_prediction_blocks", type_="foreignkey"
        )
        batch_op.drop_index("ix_prediction_records_block_id")
        batch_op.drop_column("row")
        batch_op.drop_column("block_id")

    with op.batch_alter_table("prediction_block_counts", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_prediction_block_counts_block_id_prediction_blocks", type_="foreignkey"
        )
        batch_op.add_column(sa.Column("version_id", BigId, nullable=True))
        batch_op.add_column(sa.Column("first_ts", UTC_TS, nullable=True))
        batch_op.add_column(sa.Column("last_ts", UTC_TS, nullable=True))
    for column in ("version_id", "first_ts", "last_ts"):
        op.execute(
            f"UPDATE prediction_block_counts SET {column} = (SELECT b.{column} FROM "  # noqa: S608 - fixed names
            "prediction_blocks b WHERE b.id = prediction_block_counts.block_id)"
        )
    with op.batch_alter_table("prediction_block_counts", schema=None) as batch_op:
        for column in ("version_id", "first_ts", "last_ts"):
            batch_op.alter_column(column, nullable=False)
        batch_op.create_foreign_key(
            "fk_prediction_block_counts_version_id_model_versions",
            "model_versions",
            ["version_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ix_prediction_block_counts_version_id_span", ["version_id", "first_ts"], unique=False
        )

    _split_blocks_at_midnight()
    if postgres:
        _partition(
            "prediction_blocks",
            "first_ts",
            primary_key=["id"],
            indexes={"ix_prediction_blocks_version_id_span": "version_id, first_ts, last_ts"},
            foreign_keys=[_FK_BLOCK_VERSION],
        )
        op.execute("ALTER SEQUENCE prediction_blocks_id_seq OWNED BY prediction_blocks.id")
        op.drop_table("prediction_blocks_unpartitioned")
        _partition(
            "prediction_labels",
            "ts",
            primary_key=["version_id", "prediction_id"],
            indexes={"ix_prediction_labels_version_id_ts": "version_id, ts"},
            foreign_keys=[_FK_LABEL_RECORD],
        )
        op.drop_table("prediction_labels_unpartitioned")


_FK_BLOCK_VERSION = (
    "fk_prediction_blocks_version_id_model_versions "
    "FOREIGN KEY (version_id) REFERENCES model_versions (id) ON DELETE CASCADE"
)
_FK_LABEL_RECORD = (
    "fk_prediction_labels_version_id_prediction_records "
    "FOREIGN KEY (version_id, prediction_id) "
    "REFERENCES prediction_records (version_id, prediction_id) ON DELETE CASCADE"
)


def _split_blocks_at_midnight() -> None:
    """One block per UTC day for every block that spans midnight (its cached counts go: they
    are recomputed on first use)."""
    bind = op.get_bind()
    spans = bind.execute(sa.select(_blocks.c.id, _blocks.c.first_ts, _blocks.c.last_ts))
    crossing = [row[0] for row in spans if row[1].date() != row[2].date()]
    for block_id in crossing:
        block = bind.execute(sa.select(_blocks).where(_blocks.c.id == block_id)).one()
        table = feather.read_table(pa.BufferReader(block.columns), memory_map=False)
        table = table.sort_by(BLOCK_TS)
        day = pc.floor_temporal(table.column(BLOCK_TS), unit="day")
        for value in pc.unique(day).to_pylist():
            piece = table.filter(pc.equal(day, pa.scalar(value, day.type)))
            span = pc.min_max(piece.column(BLOCK_TS)).as_py()
            bind.execute(
                sa.insert(_blocks).values(
                    version_id=block.version_id,
                    first_ts=span["min"],
                    last_ts=span["max"],
                    row_count=piece.num_rows,
                    columns=_encode(piece),
                    received_at=block.received_at,
                )
            )
        bind.execute(sa.delete(_counts).where(_counts.c.block_id == block_id))
        bind.execute(sa.delete(_blocks).where(_blocks.c.id == block_id))


def _encode(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _partition(
    name: str,
    key: str,
    *,
    primary_key: list[str],
    indexes: dict[str, str],
    foreign_keys: list[str],
) -> None:
    """Replace table ``name`` by a table partitioned by range on ``key``: a partition per UTC
    day that holds rows and a DEFAULT one, filled from the old table, which is left as
    ``<name>_unpartitioned`` for the caller to drop."""
    old = f"{name}_unpartitioned"
    op.execute(f"ALTER TABLE {name} RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT pk_{name} TO pk_{old}")
    for index in indexes:
        op.execute(f"DROP INDEX {index}")
    op.execute(
        f"CREATE TABLE {name} (LIKE {old} INCLUDING DEFAULTS INCLUDING STORAGE) "
        f"PARTITION BY RANGE ({key})"
    )
    op.execute(
        f"ALTER TABLE {name} ADD CONSTRAINT pk_{name} PRIMARY KEY ({', '.join(primary_key)}, {key})"
    )
    for index, columns in indexes.items():
        op.execute(f"CREATE INDEX {index} ON {name} ({columns})")
    for constraint in foreign_keys:
        op.execute(f"ALTER TABLE {name} ADD CONSTRAINT {constraint}")
    op.execute(f"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT")
    days = op.get_bind().scalars(
        sa.text(f"SELECT DISTINCT date_trunc('day', {key} AT TIME ZONE 'UTC') FROM {old}")  # noqa: S608 - fixed names
    )
    for day in days:
        start = day.replace(tzinfo=UTC)
        op.execute(
            f"CREATE TABLE {name}_p{start:%Y%m%d} PARTITION OF {name} FOR VALUES FROM "
            f"('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
        )
    op.execute(f"INSERT INTO {name} SELECT * FROM {old}")  # noqa: S608 - fixed names


def _unpartition(
    name: str, *, primary_key: list[str], indexes: dict[str, str], foreign_keys: list[str]
) -> None:
    """Replace partitioned table ``name`` by a plain one holding the same rows."""
    plain = f"{name}_plain"
    op.execute(f"CREATE TABLE {plain} (LIKE {name} INCLUDING DEFAULTS INCLUDING STORAGE)")
    op.execute(f"INSERT INTO {plain} SELECT * FROM {name}")  # noqa: S608 - fixed names
    if name == "prediction_blocks":
        op.execute(f"ALTER SEQUENCE prediction_blocks_id_seq OWNED BY {plain}.id")
    op.execute(f"DROP TABLE {name}")
    op.execute(f"ALTER TABLE {plain} RENAME TO {name}")
    columns = ", ".join(primary_key)
    op.execute(f"ALTER TABLE {name} ADD CONSTRAINT pk_{name} PRIMARY KEY ({columns})")
    for index, columns in indexes.items():
        op.execute(f"CREATE INDEX {index} ON {name} ({columns})")
    for constraint in foreign_keys:
        op.execute(f"ALTER TABLE {name} ADD CONSTRAINT {constraint}")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        _unpartition(
            "prediction_labels",
            primary_key=["version_id", "prediction_id"],
            indexes={"ix_prediction_labels_version_id_ts": "version_id, ts"},
            foreign_keys=[_FK_LABEL_RECORD],
        )
        _unpartition(
            "prediction_blocks",
            primary_key=["id"],
            indexes={"ix_prediction_blocks_version_id_span": "version_id, first_ts, last_ts"},
            foreign_keys=[_FK_BLOCK_VERSION],
        )

    with op.batch_alter_table("prediction_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_prediction_labels_version_id_ts")
        batch_op.drop_column("ts")

    # Counts of purged blocks cannot point at a block any more.
    op.execute(
        "DELETE FROM prediction_block_counts "
        "WHERE block_id NOT IN (SELECT id FROM prediction_blocks)"
    )
    with op.batch_alter_table("prediction_block_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_prediction_block_counts_version_id_span")
        batch_op.drop_constraint(
            "fk_prediction_block_counts_version_id_model_versions", type_="foreignkey"
        )
        batch_op.drop_column("last_ts")
        batch_op.drop_column("first_ts")
        batch_op.drop_column("version_id")
        batch_op.create_foreign_key(
            "fk_prediction_block_counts_block_id_prediction_blocks",
            "prediction_blocks",
            ["block_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with labels_kept(), op.batch_alter_table("prediction_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("block_id", BigId, nullable=True))
        batch_op.add_column(sa.Column("row", sa.Integer(), nullable=True))
    _locate_records()
    with labels_kept(), op.batch_alter_table("prediction_records", schema=None) as batch_op:
        batch_op.alter_column("block_id", existing_type=BigId, nullable=False)
        batch_op.alter_column("row", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            "fk_prediction_records_block_id_prediction_blocks",
            "prediction_blocks",
            ["block_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index("ix_prediction_records_block_id", ["block_id"], unique=False)


def _locate_records() -> None:
    """Point each key row at its block and row again; key rows whose block was purged go."""
    bind = op.get_bind()
    records = sa.table(
        "prediction_records",
        sa.column("version_id", BigId),
        sa.column("prediction_id", sa.String()),
        sa.column("block_id", BigId),
        sa.column("row", sa.Integer()),
    )
    update = (
        sa.update(records)
        .where(
            records.c.version_id == sa.bindparam("v"),
            records.c.prediction_id == sa.bindparam("p"),
        )
        .values(block_id=sa.bindparam("b"), row=sa.bindparam("r"))
    )
    for block_id, version_id in bind.execute(sa.select(_blocks.c.id, _blocks.c.version_id)).all():
        data = bind.scalar(sa.select(_blocks.c.columns).where(_blocks.c.id == block_id))
        table = feather.read_table(pa.BufferReader(data), columns=[BLOCK_ID], memory_map=False)
        rows = [
            {"v": version_id, "p": pid, "b": block_id, "r": index}
            for index, pid in enumerate(table.column(BLOCK_ID).to_pylist())
        ]
        if rows:
            bind.execute(update, rows)
    bind.execute(sa.delete(records).where(records.c.block_id.is_(None)))
