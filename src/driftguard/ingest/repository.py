"""Queries of stored predictions, labels, reference data and per-block counts. Callers have
already resolved (and so authorised) the model version."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from driftguard.db.base import utcnow
from driftguard.ingest.blocks import EncodedBlock
from driftguard.ingest.orm import (
    IngestReceipt,
    PredictionBlock,
    PredictionBlockCounts,
    PredictionLabel,
    PredictionOverride,
    PredictionRecord,
    ReferenceDataset,
)
from driftguard.registry.orm import ModelVersion

_IN_CHUNK = 1000  # bound parameters per IN (...) list
# The longest time one block spans: batches are cut at UTC midnight (``service._store``).
BLOCK_SPAN = timedelta(days=1)


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def lock_version(session: Session, version_id: int) -> None:
    """Serialise writers of one version's data (PostgreSQL row lock; SQLite writers already are
    serialised), so concurrent batches see each other's ids, receipts and references."""
    session.execute(select(ModelVersion.id).where(ModelVersion.id == version_id).with_for_update())


# Left to choose, the planner scanned every key of the version for a batch of 10,000 ids when
# the table had no fresh statistics (bulk-loaded, not yet analysed): 0.4 s at 2,000,000 keys,
# against 20 ms for the probes. For a million ids the set match is the faster (0.8 s vs 2.4 s).
_PROBE_LIMIT = 20_000
_PROBE_IDS = (
    "SELECT i.id FROM unnest(string_to_array(:ids, chr(10))) AS i(id) CROSS JOIN LATERAL "
    "(SELECT 1 FROM prediction_records r WHERE r.version_id = :version_id "
    "AND r.prediction_id = i.id LIMIT 1) AS hit"
)
_MATCH_IDS = (
    "SELECT prediction_id FROM prediction_records WHERE version_id = :version_id "
    "AND prediction_id = ANY(string_to_array(:ids, chr(10)))"
)


def existing_prediction_ids(session: Session, version_id: int, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` the version has stored, in one statement however many there are."""
    if not ids:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        # The ids go as one text value, split by the server: binding a million-element array
        # cost psycopg about 1.8 s of Python. Ids never contain control characters (checked on
        # the way in). Up to _PROBE_LIMIT ids are probed one by one in the primary key; more
        # (a file) are matched as a set, so PostgreSQL may scan the version's keys instead.
        query = text(_PROBE_IDS if len(ids) <= _PROBE_LIMIT else _MATCH_IDS)
        return set(session.scalars(query, {"version_id": version_id, "ids": "\n".join(ids)}))
    query = text(
        "SELECT prediction_id FROM prediction_records WHERE version_id = :version_id "
        "AND prediction_id IN (SELECT value FROM json_each(:ids))"
    )
    return set(session.scalars(query, {"version_id": version_id, "ids": json.dumps(list(ids))}))


def add_block(
    session: Session,
    *,
    version_id: int,
    first: datetime,
    last: datetime,
    rows: int,
    data: EncodedBlock,
) -> int:
    """Store a block of a version's predictions under a fresh, never reused id, and return the
    id."""
    block = PredictionBlock(
        id=_next_block_id(session),
        version_id=version_id,
        first_ts=first,
        last_ts=last,
        row_count=rows,
        decisions=data.decisions,
        features=data.features,
    )
    session.add(block)
    session.flush()
    return block.id


def _next_block_id(session: Session) -> int | None:
    """A block id never used before, so a purged block's kept counts never pass for a new
    block's. PostgreSQL's sequence never reuses one (None: let it choose); SQLite would reuse
    the highest rowid once that block is purged, so the id is taken past every id that counts
    still name (SQLite writers are serialised: no race)."""
    if session.get_bind().dialect.name == "postgresql":
        return None
    highest = session.execute(
        select(
            select(func.max(PredictionBlock.id)).scalar_subquery(),
            select(func.max(PredictionBlockCounts.block_id)).scalar_subquery(),
        )
    ).one()
    return max(highest[0] or 0, highest[1] or 0) + 1


def add_records(session: Session, *, version_id: int, ids: pa.Array, ts: pa.Array) -> None:
    """One key row per prediction of a block (``ts``: UTC microsecond timestamps).

    Up to a million rows arrive at once, so this goes under the ORM, in the session's own
    transaction: COPY on PostgreSQL (its text built by Arrow, see :func:`_copy_text`), one
    prepared ``executemany`` on SQLite, with timestamps written as the ORM's UTC column type
    writes them.
    """
    # The values are UTC; as naive timestamps they print as "YYYY-MM-DD HH:MM:SS.ffffff".
    stamps = ts.cast(pa.timestamp("us")).cast(pa.string())
    raw = session.connection().connection.driver_connection
    assert raw is not None
    if session.get_bind().dialect.name == "postgresql":
        copy_sql = "COPY prediction_records (version_id, prediction_id, ts) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
            copy.write(_copy_text(version_id, ids, stamps))
        return
    raw.cursor().executemany(
        "INSERT INTO prediction_records (version_id, prediction_id, ts) VALUES (?, ?, ?)",
        zip(itertools.repeat(version_id), ids.to_pylist(), stamps.to_pylist(), strict=False),
    )


def _copy_text(version_id: int, ids: pa.Array, stamps: pa.Array) -> memoryview:
    """The rows in COPY's text format, ``version TAB id TAB time NEWLINE``, built column-wise
    (a Python loop over a million rows cost about 1 s). A backslash is the one character of an
    id that needs escaping: ids hold no control characters (checked on the way in)."""
    escaped = pc.replace_substring(ids.cast(pa.string()), "\\", "\\\\")
    lines = pc.binary_join_element_wise(
        str(version_id), escaped, pc.binary_join_element_wise(stamps, "+00\n", ""), "\t"
    )
    assert lines.null_count == 0
    if len(lines) == 0:
        return memoryview(b"")
    offsets = np.frombuffer(lines.buffers()[1], np.int32)
    offsets = offsets[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]]


def prediction_times(session: Session, version_id: int, ids: Sequence[str]) -> dict[str, datetime]:
    """The time of each of ``ids`` the version has stored."""
    found: dict[str, datetime] = {}
    for chunk in _chunks(ids):
        rows = session.execute(
            select(PredictionRecord.prediction_id, PredictionRecord.ts).where(
                PredictionRecord.version_id == version_id, PredictionRecord.prediction_id.in_(chunk)
            )
        )
        found.update((r[0], r[1]) for r in rows)
    return found


def get_receipt(session: Session, version_id: int, key: str) -> IngestReceipt | None:
    """The stored response of an earlier request with this idempotency key, or None."""
    return session.get(IngestReceipt, (version_id, key))


def add_receipt(
    session: Session, *, version_id: int, key: str, request_hash: str, response: str
) -> None:
    """Keep a request's hash and response under its idempotency key, for a retry to get the same
    answer."""
    session.add(
        IngestReceipt(version_id=version_id, key=key, request_hash=request_hash, response=response)
    )


def _overlapping(version_id: int, start: datetime, end: datetime) -> ColumnElement[bool]:
    # A block lies within one UTC day, so one that reaches ``start`` began less than a day
    # before it: with that bound on the partition key, PostgreSQL reads only the window's
    # partitions (and the previous day's).
    return and_(
        PredictionBlock.version_id == version_id,
        PredictionBlock.first_ts < end,
        PredictionBlock.first_ts > start - BLOCK_SPAN,
        PredictionBlock.last_ts >= start,
    )


def overlapping_blocks(
    version_id: int, start: datetime, end: datetime, *, features: bool = True
) -> Select[bytes | None, bytes | None]:
    """The parts of the blocks holding any prediction with ``start <= ts < end``: (decisions,
    features); without ``features``, features only of blocks stored whole (before the split)."""
    return (
        select(PredictionBlock.decisions, _features(features))
        .where(_overlapping(version_id, start, end))
        .order_by(PredictionBlock.id)
    )


def blocks_overlapping(
    session: Session, version_id: int, start: datetime, end: datetime, *, features: bool = True
) -> Sequence[tuple[bytes | None, bytes | None]]:
    """The two parts of every block that overlaps the window (the features part only if
    ``features``)."""
    rows = session.execute(overlapping_blocks(version_id, start, end, features=features))
    return [(r[0], r[1]) for r in rows]


def _features(wanted: bool) -> ColumnElement[bytes | None] | InstrumentedAttribute[bytes]:
    """The features part, or (not ``wanted``) only where the block has no decisions part: a
    part not selected is never read (PostgreSQL keeps it out of line; SQLite stores it after
    the decisions)."""
    if wanted:
        return PredictionBlock.features
    return case((PredictionBlock.decisions.is_(None), PredictionBlock.features))


def block_spans(
    session: Session, version_id: int, start: datetime, end: datetime
) -> Sequence[tuple[int, datetime, datetime]]:
    """(id, first_ts, last_ts) of the blocks overlapping the window, without their data."""
    rows = session.execute(
        select(PredictionBlock.id, PredictionBlock.first_ts, PredictionBlock.last_ts)
        .where(_overlapping(version_id, start, end))
        .order_by(PredictionBlock.id)
    )
    return [(r[0], r[1], r[2]) for r in rows]


def block_data(
    session: Session, blocks: Sequence[tuple[int, datetime, datetime]]
) -> dict[int, tuple[bytes | None, bytes]]:
    """The parts (decisions, features) of ``blocks`` ((id, first_ts, last_ts), as
    :func:`block_spans` gives them); their times bound the partitions read."""
    if not blocks:
        return {}
    firsts = [first for _, first, _ in blocks]
    rows = session.execute(
        select(PredictionBlock.id, PredictionBlock.decisions, PredictionBlock.features).where(
            PredictionBlock.id.in_([block_id for block_id, _, _ in blocks]),
            PredictionBlock.first_ts >= min(firsts),
            PredictionBlock.first_ts <= max(firsts),
        )
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def counted_spans(
    session: Session, version_id: int, start: datetime, end: datetime
) -> Sequence[tuple[int, str, datetime, datetime]]:
    """(block id, profile id, first_ts, last_ts) of the stored counts of every block that
    overlapped the window, whether the block is still stored or was purged since."""
    rows = session.execute(
        select(
            PredictionBlockCounts.block_id,
            PredictionBlockCounts.profile_id,
            PredictionBlockCounts.first_ts,
            PredictionBlockCounts.last_ts,
        ).where(
            PredictionBlockCounts.version_id == version_id,
            PredictionBlockCounts.first_ts < end,
            PredictionBlockCounts.first_ts > start - BLOCK_SPAN,
            PredictionBlockCounts.last_ts >= start,
        )
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def uncounted_blocks(
    session: Session, version_id: int, profile_id: str, before: datetime
) -> Sequence[tuple[int, datetime, datetime]]:
    """(id, first_ts, last_ts) of the version's blocks timed before ``before`` that have no
    counts against the profile."""
    counted = select(PredictionBlockCounts.block_id).where(
        PredictionBlockCounts.block_id == PredictionBlock.id,
        PredictionBlockCounts.profile_id == profile_id,
    )
    rows = session.execute(
        select(PredictionBlock.id, PredictionBlock.first_ts, PredictionBlock.last_ts)
        .where(
            PredictionBlock.version_id == version_id,
            PredictionBlock.first_ts < before,
            ~counted.exists(),
        )
        .order_by(PredictionBlock.id)
    )
    return [(r[0], r[1], r[2]) for r in rows]


def cached_counts(session: Session, block_ids: Sequence[int], profile_id: str) -> dict[int, bytes]:
    """The stored counts of these blocks against one reference profile, by block id (missing ones
    left out)."""
    found: dict[int, bytes] = {}
    for start in range(0, len(block_ids), _IN_CHUNK):
        rows = session.execute(
            select(PredictionBlockCounts.block_id, PredictionBlockCounts.counts).where(
                PredictionBlockCounts.profile_id == profile_id,
                PredictionBlockCounts.block_id.in_(block_ids[start : start + _IN_CHUNK]),
            )
        )
        found.update((r[0], r[1]) for r in rows)
    return found


def save_counts(
    session: Session,
    *,
    block: tuple[int, datetime, datetime],
    version_id: int,
    profile_id: str,
    counts: bytes,
) -> None:
    """Store a block's counts; ``block`` is (id, first_ts, last_ts)."""
    block_id, first, last = block
    session.add(
        PredictionBlockCounts(
            block_id=block_id,
            profile_id=profile_id,
            version_id=version_id,
            first_ts=first,
            last_ts=last,
            counts=counts,
        )
    )


def existing_labels(session: Session, version_id: int, times: Mapping[str, datetime]) -> set[str]:
    """Which of the predictions (id → its time) have a label; their times bound the partitions
    read."""
    found: set[str] = set()
    ids = sorted(times)
    for chunk in _chunks(ids):
        stamps = [times[p] for p in chunk]
        found.update(
            session.scalars(
                select(PredictionLabel.prediction_id).where(
                    PredictionLabel.version_id == version_id,
                    PredictionLabel.prediction_id.in_(chunk),
                    PredictionLabel.ts >= min(stamps),
                    PredictionLabel.ts <= max(stamps),
                )
            )
        )
    return found


def save_labels(
    session: Session,
    *,
    version_id: int,
    new: Mapping[str, tuple[str, datetime]],
    changed: Mapping[str, tuple[str, datetime]],
) -> None:
    """Both map a prediction id to its label and the prediction's time (the partition key, so
    an update reads one partition)."""
    now = utcnow()
    if new:
        session.execute(
            insert(PredictionLabel),
            [
                {
                    "version_id": version_id,
                    "prediction_id": p,
                    "label": v,
                    "ts": ts,
                    "received_at": now,
                }
                for p, (v, ts) in new.items()
            ],
        )
    if changed:
        labels = cast(Table, PredictionLabel.__table__)
        session.execute(
            update(labels)
            .where(
                labels.c.version_id == version_id,
                labels.c.prediction_id == bindparam("p"),
                labels.c.ts == bindparam("t"),
            )
            .values(label=bindparam("l"), received_at=now),
            [{"p": p, "l": v, "t": ts} for p, (v, ts) in changed.items()],
        )


def labels_in_window(
    session: Session, version_id: int, start: datetime, end: datetime
) -> tuple[list[str], list[str]]:
    """(prediction ids, labels) of the labelled predictions with ``start <= ts < end``."""
    rows = session.execute(
        select(PredictionLabel.prediction_id, PredictionLabel.label).where(
            PredictionLabel.version_id == version_id,
            PredictionLabel.ts >= start,
            PredictionLabel.ts < end,
        )
    ).all()
    return [r[0] for r in rows], [r[1] for r in rows]


def active_reference(session: Session, version_id: int) -> ReferenceDataset | None:
    """The version's active reference data set, or None."""
    return session.scalar(
        select(ReferenceDataset).where(
            ReferenceDataset.version_id == version_id, ReferenceDataset.is_active.is_(True)
        )
    )


def replace_reference(session: Session, reference: ReferenceDataset) -> None:
    """Make ``reference`` the active one; the one it replaces is kept, marked replaced."""
    previous = active_reference(session, reference.version_id)
    if previous is not None:
        previous.is_active = False
        previous.replaced_at = utcnow()
        session.flush()
    session.add(reference)
    session.flush()


# --- human oversight: per-prediction overrides -------------------------------------------------


def overrides_of(
    session: Session, version_id: int, ids: Sequence[str]
) -> dict[str, PredictionOverride]:
    """The stored overrides of ``ids`` of a version."""
    found: dict[str, PredictionOverride] = {}
    for chunk in _chunks(ids):
        rows = session.scalars(
            select(PredictionOverride).where(
                PredictionOverride.version_id == version_id,
                PredictionOverride.prediction_id.in_(chunk),
            )
        )
        found.update((row.prediction_id, row) for row in rows)
    return found


def count_overrides(session: Session, version_id: int, start: datetime, end: datetime) -> int:
    """Overrides of the version's predictions made in ``start <= ts < end``."""
    return (
        session.scalar(
            select(func.count()).where(
                PredictionOverride.version_id == version_id,
                PredictionOverride.prediction_ts >= start,
                PredictionOverride.prediction_ts < end,
            )
        )
        or 0
    )


def has_overrides(session: Session, version_id: int) -> bool:
    """Whether any override of the version was ever logged."""
    found = session.scalar(
        select(PredictionOverride.version_id)
        .where(PredictionOverride.version_id == version_id)
        .limit(1)
    )
    return found is not None


def list_overrides(
    session: Session, version_id: int, *, limit: int, offset: int
) -> tuple[list[PredictionOverride], int]:
    query = select(PredictionOverride).where(PredictionOverride.version_id == version_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(PredictionOverride.created_at, PredictionOverride.prediction_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total
