"""Data frames in (pandas, polars or pyarrow), JSON-ready rows out."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def to_arrow(data: Any) -> pa.Table:
    """A pyarrow Table from a pyarrow Table, a pandas or polars DataFrame, or a dict of lists."""
    if isinstance(data, pa.Table):
        return data
    if hasattr(data, "to_arrow"):  # polars
        return data.to_arrow()
    if type(data).__module__.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, dict):
        return pa.table(data)
    raise TypeError(f"expected a pandas/polars DataFrame or a pyarrow Table, got {type(data)!r}")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def chunks(table: pa.Table, size: int) -> Iterator[pa.Table]:
    """The table in slices of at most ``size`` rows."""
    for start in range(0, table.num_rows, size):
        yield table.slice(start, size)


def prediction_rows(
    table: pa.Table,
    *,
    id_col: str,
    timestamp_col: str,
    prediction_col: str | None,
    score_col: str | None,
    feature_cols: Sequence[str],
) -> list[dict[str, Any]]:
    """The table's rows as the JSON rows ``POST …/predictions`` takes: id, timestamp, features,
    and the prediction's label and score."""
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    rows = []
    for i in range(table.num_rows):
        prediction: dict[str, Any] = {}
        if prediction_col is not None:
            prediction["label"] = _clean(columns[prediction_col][i])
        if score_col is not None:
            prediction["score"] = _clean(columns[score_col][i])
        timestamp = columns[timestamp_col][i]
        rows.append(
            {
                "prediction_id": str(columns[id_col][i]),
                "timestamp": _clean(timestamp),
                "features": {name: _clean(columns[name][i]) for name in feature_cols},
                "prediction": prediction,
            }
        )
    return rows


def parquet_bytes(table: pa.Table) -> bytes:
    """The table as a zstd-compressed Parquet file, for upload."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue())
