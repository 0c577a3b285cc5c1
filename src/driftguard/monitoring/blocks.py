"""The on-disk form of a prediction block: one compressed Arrow IPC file (Feather V2), so a
reader can decompress only the columns it needs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather

from driftguard.monitoring.frames import TS

_WRITE_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")


def encode_block(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema, options=_WRITE_OPTIONS) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def decode_block(data: bytes, columns: Sequence[str] | None = None) -> pa.Table:
    """The block's rows; with ``columns``, only those are decompressed."""
    return feather.read_table(pa.BufferReader(data), columns=columns, memory_map=False)


def in_window(table: pa.Table, start: datetime, end: datetime) -> pa.Table:
    """The rows with ``start <= timestamp < end``."""
    ts = table.column(TS)
    low, high = pa.scalar(start, ts.type), pa.scalar(end, ts.type)
    return table.filter(pc.and_(pc.greater_equal(ts, low), pc.less(ts, high)))
