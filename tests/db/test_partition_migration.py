"""Migration 0008 (time partitions) keeps every prediction, label and count, both ways, and cuts
a stored block that spans midnight into one block per day."""

from __future__ import annotations

import json
from datetime import timedelta

import pyarrow as pa
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine

from driftguard.app import create_app
from driftguard.db import migrate
from driftguard.db.base import UTCDateTime
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory
from driftguard.identity.passwords import build_hasher
from driftguard.identity.permissions import Role
from driftguard.ingest.blocks import decode_block
from driftguard.ingest.frames import ID, TS
from driftguard.stats import WindowCounts
from support.config import make_settings
from support.identity import auth_headers, make_team, make_user
from support.monitoring import BASE_TIME, prediction_rows, reference_rows, whole_block
from support.registry import create_model, create_version

UTC_TS = UTCDateTime()
BLOCKS = sa.table(
    "prediction_blocks",
    sa.column("id", sa.BigInteger()),
    sa.column("version_id", sa.BigInteger()),
    sa.column("first_ts", UTC_TS),
    sa.column("last_ts", UTC_TS),
    sa.column("row_count", sa.Integer()),
    sa.column("columns", sa.LargeBinary()),
    sa.column("received_at", UTC_TS),
)
RECORDS_0006 = sa.table(
    "prediction_records",
    sa.column("version_id", sa.BigInteger()),
    sa.column("prediction_id", sa.String()),
    sa.column("ts", UTC_TS),
    sa.column("block_id", sa.BigInteger()),
    sa.column("row", sa.Integer()),
)


def _seed(engine: Engine, url: str) -> tuple[str, int]:
    """A version with a reference, 40 predictions over two days and 3 labels; (url, version)."""
    settings = make_settings(url, scheduler_enabled=False, webhook_delivery_enabled=False)
    factory = build_session_factory(engine)
    team = make_team(factory)
    email = make_user(factory, build_hasher(settings), teams={team: Role.ML_ENGINEER})
    with TestClient(create_app(settings, engine=engine)) as client:
        headers = auth_headers(client, email)
        model = create_model(client, headers, team)
        version = create_version(client, headers, model["id"])
        base = f"/api/v1/models/{model['id']}/versions/1"
        reference = client.put(
            f"{base}/reference", json={"rows": reference_rows(200)}, headers=headers
        )
        assert reference.status_code == 200, reference.text
        rows = prediction_rows(40)
        for index, row in enumerate(rows):
            row["timestamp"] = (BASE_TIME + index * timedelta(hours=1)).isoformat()
        logged = client.post(f"{base}/predictions", json={"rows": rows}, headers=headers)
        assert logged.json()["new"] == 40
        labels = [{"prediction_id": p, "label": 1} for p in ("p-0", "p-30", "p-39")]
        labelled = client.post(f"{base}/labels", json={"labels": labels}, headers=headers)
        assert labelled.json()["stored"] == 3
    return base, version["id"]


def _snapshot(connection: Connection) -> dict[str, object]:
    return {
        "records": sorted(
            connection.execute(sa.text("SELECT prediction_id FROM prediction_records")).scalars()
        ),
        "labels": sorted(
            connection.execute(sa.text("SELECT prediction_id FROM prediction_labels")).scalars()
        ),
        "rows": connection.scalar(sa.text("SELECT sum(row_count) FROM prediction_blocks")),
    }


def test_predictions_survive_the_partitioning_migration_both_ways(
    scratch_database_url: str,
) -> None:
    engine = build_engine(make_settings(scratch_database_url))
    try:
        migrate.upgrade(engine)
        _, version_id = _seed(engine, scratch_database_url)
        with engine.connect() as connection:
            before = _snapshot(connection)
            counts = connection.scalar(sa.text("SELECT count(*) FROM prediction_block_counts"))
        assert before["rows"] == 40
        assert counts == 2  # one block per day, counted at ingest

        migrate.downgrade(engine, "0007")
        with engine.begin() as connection:
            assert _snapshot(connection) == before
            # Each key row points at its block and row again.
            located = connection.execute(
                sa.select(RECORDS_0006.c.prediction_id, RECORDS_0006.c.block_id, RECORDS_0006.c.row)
            ).all()
            whole = {
                block_id: decode_block(None, data)
                for block_id, data in connection.execute(sa.select(BLOCKS.c.id, BLOCKS.c.columns))
            }
            # Migration 0014's downgrade merged each block's two parts and rewrote the counts
            # in the form releases before it read (version 2).
            for table in whole.values():
                assert {"income", "region", "gender"} <= set(table.column_names)
            blocks = {block_id: t.column(ID).to_pylist() for block_id, t in whole.items()}
            stored = connection.execute(sa.text("SELECT counts FROM prediction_block_counts"))
            kept = stored.scalars().all()
            assert len(kept) == 2
            for data in kept:
                size = int.from_bytes(data[5:9], "little")
                assert json.loads(data[9 : 9 + size])["version"] == 2
                assert sum(WindowCounts.from_bytes(data).bin_counts[0]) > 0
            assert all(blocks[block][row] == pid for pid, block, row in located)
            _add_block_across_midnight(connection, version_id, blocks)

        migrate.upgrade(engine)
        with engine.connect() as connection:
            after = _snapshot(connection)
            spans = connection.execute(sa.select(BLOCKS.c.first_ts, BLOCKS.c.last_ts)).all()
            label_times = (
                connection.execute(
                    sa.text(
                        "SELECT l.ts = r.ts FROM prediction_labels l JOIN prediction_records r "
                        "ON r.version_id = l.version_id AND r.prediction_id = l.prediction_id"
                    )
                )
                .scalars()
                .all()
            )
            counts_after = connection.scalar(
                sa.text("SELECT count(*) FROM prediction_block_counts")
            )
            if engine.dialect.name == "postgresql":
                in_default = connection.scalar(
                    sa.text("SELECT count(*) FROM prediction_blocks_default")
                )
                assert in_default == 0  # the upgrade made a partition per day of data
        assert after["records"] == sorted([*before["records"], "x-0", "x-1"])  # type: ignore[misc]
        assert after["labels"] == before["labels"]
        assert after["rows"] == 42
        assert len(spans) == 4  # the block across midnight became two
        assert all(first.date() == last.date() for first, last in spans)
        assert label_times == [True, True, True]
        assert counts_after == 2  # counts of the blocks that were not cut stay
    finally:
        engine.dispose()


def _add_block_across_midnight(
    connection: Connection, version_id: int, blocks: dict[int, list[str]]
) -> None:
    """A block as an older release stored it: two rows, either side of a midnight."""
    template = decode_block(
        None, connection.scalar(sa.select(BLOCKS.c.columns).where(BLOCKS.c.id == min(blocks)))
    ).slice(0, 2)
    stamps = [BASE_TIME + timedelta(days=5, hours=23), BASE_TIME + timedelta(days=6, hours=1)]
    table = template.set_column(
        template.column_names.index(ID), ID, pa.array(["x-0", "x-1"], pa.string())
    )
    table = table.set_column(
        table.column_names.index(TS), TS, pa.array(stamps, table.schema.field(TS).type)
    )
    block_id = connection.execute(
        sa.insert(BLOCKS)
        .values(
            version_id=version_id,
            first_ts=stamps[0],
            last_ts=stamps[1],
            row_count=2,
            columns=whole_block(table),
            received_at=stamps[1],
        )
        .returning(BLOCKS.c.id)
    ).scalar_one()
    connection.execute(
        sa.insert(RECORDS_0006),
        [
            {
                "version_id": version_id,
                "prediction_id": f"x-{i}",
                "ts": stamp,
                "block_id": block_id,
                "row": i,
            }
            for i, stamp in enumerate(stamps)
        ],
    )
