"""The on-disk form of a prediction block: two compressed Arrow IPC files (Feather V2), so a
reader fetches only the part it needs and decompresses only the columns it asks for.

- ``decisions``: each row's id, time, predicted label and score, tags and sensitive
  attributes — what fairness and performance read row by row (a few bytes a row);
- ``features``: the model's other inputs — what drift reads, and which a monitoring run
  mostly takes from the block's stored counts instead (most of a block's bytes).

Blocks written before the split (migration 0014) have no ``decisions``: their ``features``
hold every column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather

from driftguard.ingest.frames import ID, LABEL, SCORE, TAGS, TS, FeatureSchema

_WRITE_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")


@dataclass(frozen=True, slots=True)
class EncodedBlock:
    decisions: bytes
    features: bytes


def decision_columns(schema: FeatureSchema) -> tuple[str, ...]:
    """The columns a block keeps in its ``decisions`` part."""
    return (ID, TS, LABEL, SCORE, TAGS, *schema.sensitive())


def encode_block(table: pa.Table, schema: FeatureSchema) -> EncodedBlock:
    """A block's rows as its two Arrow IPC parts: the decision columns, and the features."""
    decided = set(decision_columns(schema))
    return EncodedBlock(
        decisions=_encode(table.select([n for n in table.column_names if n in decided])),
        features=_encode(table.select([n for n in table.column_names if n not in decided])),
    )


def decode_block(
    decisions: bytes | None, features: bytes | None, columns: Sequence[str] | None = None
) -> pa.Table:
    """The block's rows from the parts given (a part not fetched is None); with ``columns``,
    only those, in that order, and only they are decompressed."""
    parts = [_decode(part, columns) for part in (decisions, features) if part is not None]
    names = [n for part in parts for n in part.column_names] if columns is None else columns
    found = {n: part.column(n) for part in parts for n in part.column_names}
    return pa.table({n: found[n] for n in names})


def in_window(table: pa.Table, start: datetime, end: datetime) -> pa.Table:
    """The rows with ``start <= timestamp < end``."""
    ts = table.column(TS)
    low, high = pa.scalar(start, ts.type), pa.scalar(end, ts.type)
    return table.filter(pc.and_(pc.greater_equal(ts, low), pc.less(ts, high)))


def _encode(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema, options=_WRITE_OPTIONS) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _decode(data: bytes, columns: Sequence[str] | None) -> pa.Table:
    source = pa.BufferReader(data)
    if columns is not None:
        present = set(pa.ipc.open_file(source).schema.names)
        columns = [n for n in columns if n in present]
    return feather.read_table(source, columns=columns, memory_map=False)
