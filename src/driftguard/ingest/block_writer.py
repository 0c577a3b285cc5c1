"""New predictions written as blocks: each block's key rows, its encoded columns and its
counts in the active reference's bins.

A file of a million predictions is cut into blocks; while the database takes one block (its
key rows' COPY holds the connection), a helper thread encodes and counts the next, so the
Python work and the database's overlap instead of taking turns.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from driftguard import stats
from driftguard.ingest import repository
from driftguard.ingest.blocks import EncodedBlock, encode_block
from driftguard.ingest.counts import count_table
from driftguard.ingest.frames import ID, TS, FeatureSchema
from driftguard.ingest.profiles import active_profile
from driftguard.registry.orm import ModelVersion

# Rows per stored block when a table is split (blocks are cut in time order).
FILE_BLOCK_ROWS = 100_000
_DAY_MICROS = 86_400_000_000


@dataclass(frozen=True, slots=True)
class _Block:
    first: datetime
    last: datetime
    rows: int
    data: EncodedBlock
    ids: pa.Array
    ts: pa.Array
    counts: bytes | None


def blocks(table: pa.Table, first: datetime, last: datetime) -> Iterator[pa.Table]:
    """The rows cut into blocks: never across UTC midnight (a block then lies in one time
    partition, whatever their width in days), and of at most ``FILE_BLOCK_ROWS`` rows."""
    one_day = first.date() == last.date()
    if one_day and table.num_rows <= FILE_BLOCK_ROWS:
        yield table
        return
    table = table.sort_by(TS)
    micros = table.column(TS).combine_chunks().cast(pa.int64()).to_numpy()
    days = micros // _DAY_MICROS
    cuts = np.flatnonzero(np.diff(days)) + 1
    for low, high in zip([0, *cuts], [*cuts, table.num_rows], strict=True):
        for start in range(int(low), int(high), FILE_BLOCK_ROWS):
            yield table.slice(start, min(FILE_BLOCK_ROWS, int(high) - start))


def store_blocks(session: Session, version: ModelVersion, pieces: list[pa.Table]) -> None:
    """Write every piece as a block, in the session's transaction."""
    profile = active_profile(session, version.id)
    prepare = partial(_prepare, profile, FeatureSchema.from_version(version.features))
    if len(pieces) == 1:
        _write(session, version.id, profile, prepare(pieces[0]))
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftguard-blocks") as pool:
        upcoming = pool.submit(prepare, pieces[0])
        for following in [*pieces[1:], None]:
            block = upcoming.result()
            if following is not None:
                upcoming = pool.submit(prepare, following)
            _write(session, version.id, profile, block)


def _prepare(profile: stats.Profile | None, schema: FeatureSchema, table: pa.Table) -> _Block:
    """Everything about a block that needs no database (safe in the helper thread)."""
    ts = table.column(TS).combine_chunks()
    span = pc.min_max(ts).as_py()
    counts = None
    # Without a reference, the block is counted on first use once one exists; a block the
    # profile cannot count is left to the run that needs it, which reports the problem.
    if profile is not None:
        with suppress(stats.StatsInputError):
            counts = count_table(profile, schema, table).to_bytes()
    return _Block(
        first=span["min"],
        last=span["max"],
        rows=table.num_rows,
        data=encode_block(table, schema),
        ids=table.column(ID).combine_chunks(),
        ts=ts,
        counts=counts,
    )


def _write(session: Session, version_id: int, profile: stats.Profile | None, block: _Block) -> None:
    block_id = repository.add_block(
        session,
        version_id=version_id,
        first=block.first,
        last=block.last,
        rows=block.rows,
        data=block.data,
    )
    repository.add_records(session, version_id=version_id, ids=block.ids, ts=block.ts)
    if profile is not None and block.counts is not None:
        repository.save_counts(
            session,
            block=(block_id, block.first, block.last),
            version_id=version_id,
            profile_id=profile.profile_id,
            counts=block.counts,
        )
