"""Builders for prediction rows and reference data."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

BASE_TIME = datetime(2026, 11, 1, tzinfo=UTC)


def prediction_rows(count: int, *, start: int = 0, seed: int = 0) -> list[dict[str, Any]]:
    """Rows matching ``support.registry.version_body``'s schema (income, region, gender)."""
    rng = random.Random(seed)
    return [
        {
            "prediction_id": f"p-{i}",
            "timestamp": (BASE_TIME + timedelta(minutes=i)).isoformat(),
            "features": {
                "income": round(rng.uniform(1_000, 9_000), 2),
                "region": rng.choice(["north", "south", "east"]),
                "gender": rng.choice(["f", "m"]),
            },
            "prediction": {"label": rng.choice([0, 1]), "score": rng.random()},
        }
        for i in range(start, start + count)
    ]


def reference_rows(count: int, *, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "income": rng.uniform(1_000, 9_000),
            "region": rng.choice(["north", "south", "east"]),
            "gender": rng.choice(["f", "m"]),
            "default": rng.choice([0, 1]),
        }
        for _ in range(count)
    ]


def whole_block(table: pa.Table) -> bytes:
    """A block as releases before migration 0014 stored it: one Arrow IPC file holding every
    column (read back with ``decode_block(None, data)``)."""
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())
