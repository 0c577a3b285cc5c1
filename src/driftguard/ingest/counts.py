"""Mergeable counts of stored predictions in a reference profile's bins: the cost of drift over
a window grows with the number of blocks, not rows. Counts of whole blocks are cached per
reference profile (filled at ingest, on first use, or before a purge); blocks that straddle a
window's edges are counted from their rows inside it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pyarrow as pa
from sqlalchemy.orm import Session

from driftguard import stats
from driftguard.ingest import repository
from driftguard.ingest.blocks import decode_block, in_window
from driftguard.ingest.frames import FeatureSchema, stats_columns

LOAD_BATCH = 16  # blocks read from the database at a time


def count_table(
    profile: stats.Profile, schema: FeatureSchema, table: pa.Table
) -> stats.WindowCounts:
    """A table's per-feature counts in the reference profile's bins (missing values counted
    apart)."""
    data = stats_columns({f.name: table.column(f.name) for f in schema.features}, schema)
    return stats.count_window(profile, data, nan_policy="omit")


def window_counts(
    session: Session,
    *,
    version_id: int,
    profile: stats.Profile,
    schema: FeatureSchema,
    start: datetime,
    end: datetime,
) -> stats.WindowCounts | None:
    """The merged counts of every prediction in ``[start, end)``; None if there is none."""
    spans = repository.block_spans(session, version_id, start, end)
    whole = [s for s in spans if s[1] >= start and s[2] < end]
    edges = [s for s in spans if not (s[1] >= start and s[2] < end)]
    cached = repository.cached_counts(session, [s[0] for s in whole], profile.profile_id)
    parts = [stats.WindowCounts.from_bytes(data) for data in cached.values()]
    missing = {s[0]: s for s in whole if s[0] not in cached}
    for block_id, table in _decoded(session, list(missing.values())):
        parts.append(_count_block(session, missing[block_id], table, version_id, profile, schema))
    for _, table in _decoded(session, edges):
        inside = in_window(table, start, end)
        if inside.num_rows:
            parts.append(count_table(profile, schema, inside))
    return merged(parts)


def merged(parts: Sequence[stats.WindowCounts]) -> stats.WindowCounts | None:
    """The sum of per-block counts, or None when there are none."""
    if not parts:
        return None
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def rows_counted(counts: stats.WindowCounts) -> int:
    """How many predictions the counts hold (every row is counted once per feature: in a bin
    or as missing)."""
    if not counts.feature_names:
        return 0
    return int(counts.bin_counts[0].sum()) + counts.n_missing[0]


def count_before_purge(
    session: Session,
    *,
    version_id: int,
    profile: stats.Profile,
    schema: FeatureSchema,
    before: datetime,
) -> int:
    """Count against ``profile`` every block timed before ``before`` that has no counts for it
    yet (blocks logged before the reference was), so a purge keeps what drift needs; returns
    how many were counted. Blocks whose values the profile refuses are left uncounted."""
    missing = {
        block[0]: block
        for block in repository.uncounted_blocks(session, version_id, profile.profile_id, before)
    }
    counted = 0
    for block_id, table in _decoded(session, list(missing.values())):
        try:
            _count_block(session, missing[block_id], table, version_id, profile, schema)
        except stats.StatsInputError:
            continue
        counted += 1
    return counted


def _count_block(
    session: Session,
    block: tuple[int, datetime, datetime],
    table: pa.Table,
    version_id: int,
    profile: stats.Profile,
    schema: FeatureSchema,
) -> stats.WindowCounts:
    """Count a stored block's rows against ``profile`` and keep the counts for later windows."""
    counts = count_table(profile, schema, table)
    repository.save_counts(
        session,
        block=block,
        version_id=version_id,
        profile_id=profile.profile_id,
        counts=counts.to_bytes(),
    )
    return counts


def _decoded(
    session: Session, blocks: Sequence[tuple[int, datetime, datetime]]
) -> list[tuple[int, pa.Table]]:
    tables = []
    for first in range(0, len(blocks), LOAD_BATCH):
        data = repository.block_data(session, blocks[first : first + LOAD_BATCH])
        tables += [(block_id, decode_block(*parts)) for block_id, parts in data.items()]
    return tables
