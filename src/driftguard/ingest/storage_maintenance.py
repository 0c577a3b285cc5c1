"""Prediction storage over time: time partitions prepared ahead, and retention.

:func:`maintain` is the one entry point, run as a maintenance job (``jobs.maintenance``: at
start-up, then every maintenance interval; on a worker when a broker is set) and by
``driftguard predictions maintain``. On PostgreSQL it makes sure the partitioned tables
(``prediction_blocks`` by ``first_ts``, ``prediction_labels`` by ``ts``) have a partition for
the current period and the next ``prediction_partitions_ahead``, and gives a partition to any
row that landed in the DEFAULT partition (a backfill older than the prepared range: such rows
are accepted, never refused, and moved out on the next maintenance). When a retention is set
it purges raw predictions older than it: whole partitions are detached and dropped, and the
key rows (``prediction_records``, not partitioned) deleted. SQLite keeps plain tables: there the
purge deletes rows. Reports, runs and per-block counts are not purged here (reports have a
retention of their own, ``monitoring.retention``); a block not yet counted against its
version's reference is counted before it goes, so monitoring over the purged window still has
its drift (``monitoring.purged``).

A purge may be given a :class:`RetentionHold`: raw predictions of the versions it names, timed
at or after its ``since``, are kept whatever the cutoff. ``lifecycle.retention`` builds it (the
EU AI Act floor of six months for high-risk models, Art. 12 and 19); this package only applies
it, since it sits below the lifecycle and cannot read model cards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Result, delete, func, or_, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from driftguard.audit import service as audit
from driftguard.audit.schemas import SYSTEM, Actor
from driftguard.db import partitions as pg
from driftguard.db.session import unit_of_work
from driftguard.ingest.counts import count_before_purge
from driftguard.ingest.frames import FeatureSchema
from driftguard.ingest.orm import PredictionBlock, PredictionRecord
from driftguard.ingest.profiles import active_profile
from driftguard.registry.orm import ModelVersion
from driftguard.settings import Settings

logger = logging.getLogger("driftguard.partitions")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
# pg_try_advisory_xact_lock key: one maintenance at a time across server processes.
MAINTENANCE_LOCK = 0x6472_6966_7470_6172  # "driftpar"
# Maintenance gives way to ingest rather than queueing it behind a table lock.
LOCK_TIMEOUT = "5s"


@dataclass(frozen=True, slots=True)
class PurgeResult:
    before: datetime
    partitions_dropped: tuple[str, ...]
    blocks: int
    labels: int
    records: int
    # Blocks counted against their version's reference just before going (logged before it).
    blocks_counted: int = 0
    # The retention floor: rows of this many versions timed at or after ``held_since`` were kept.
    held_versions: int = 0
    held_since: datetime | None = None
    held_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RetentionHold:
    """Raw predictions a purge keeps whatever its cutoff: those of ``version_ids`` timed at or
    after ``since`` (rounded down to UTC midnight, so a day is never split)."""

    version_ids: frozenset[int]
    since: datetime
    reason: str


# Builds the hold of a purge at a moment, in the purge's transaction (``lifecycle.retention``).
HoldSource = Callable[[Session, datetime], RetentionHold | None]


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    created: tuple[str, ...]
    purged: PurgeResult | None
    skipped: bool = False  # another process holds the maintenance lock


def period_start(moment: datetime, days: int) -> datetime:
    """The start of the partition period of ``days`` days (aligned to 2000-01-01 UTC)
    holding ``moment``."""
    width = timedelta(days=days)
    return EPOCH + ((moment - EPOCH) // width) * width


def _gaps(
    start: datetime, end: datetime, taken: list[pg.Partition]
) -> list[tuple[datetime, datetime]]:
    """The parts of ``[start, end)`` no existing partition covers (partitions made with
    another width may cover part of it)."""
    gaps, cursor = [], start
    for part in sorted((p for p in taken if not p.is_default), key=lambda p: p.start or EPOCH):
        assert part.start is not None
        assert part.end is not None
        if part.end <= cursor or part.start >= end:
            continue
        if part.start > cursor:
            gaps.append((cursor, part.start))
        cursor = max(cursor, part.end)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def ensure(session: Session, *, days: int, ahead: int, now: datetime) -> list[str]:
    """Create the partitions of the current period and the next ``ahead``, and of the periods
    of rows waiting in DEFAULT partitions; returns the names created (none on SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    width = timedelta(days=days)
    current = period_start(now, days)
    created: list[str] = []
    for table in pg.partitioned_tables():
        key = pg.partition_key(table)
        existing = pg.partitions(session, table.name)
        periods = {current + k * width for k in range(ahead + 1)}
        periods |= {period_start(day, days) for day in pg.default_periods(session, table.name, key)}
        for period in sorted(periods):
            for start, end in _gaps(period, period + width, existing):
                name = pg.create_partition(session, table.name, key, start, end)
                existing.append(pg.Partition(name, start, end))
                created.append(name)
    return created


def _held_cut(cutoff: datetime, hold: RetentionHold | None) -> tuple[frozenset[int], datetime]:
    """The versions a hold keeps from this purge, and the cutoff that applies to them."""
    if hold is None or not hold.version_ids:
        return frozenset(), cutoff
    floor = period_start(hold.since, 1)
    return (hold.version_ids, floor) if floor < cutoff else (frozenset(), cutoff)


def _going(
    column: ColumnElement[datetime] | InstrumentedAttribute[datetime],
    version: ColumnElement[int] | InstrumentedAttribute[int],
    cutoff: datetime,
    held: Collection[int],
    floor: datetime,
) -> ColumnElement[bool]:
    """Rows timed before the cutoff, except the held versions' rows at or after their floor."""
    if not held:
        return column < cutoff
    return or_(column < floor, (column < cutoff) & version.not_in(list(held)))


def purge(
    session: Session, *, before: datetime, actor: Actor, hold: RetentionHold | None = None
) -> PurgeResult:
    """Delete raw predictions (blocks, key rows, labels) timed before ``before`` (rounded down
    to UTC midnight, where blocks are cut), audited. On PostgreSQL, partitions wholly before it
    are detached and dropped; rows of a partition that straddles it are deleted. Rows ``hold``
    keeps stay: a partition holding any of them is emptied row by row instead of dropped."""
    cutoff = period_start(before, 1)
    held, floor = _held_cut(cutoff, hold)
    versions = list(
        session.scalars(
            select(PredictionBlock.version_id).where(PredictionBlock.first_ts < cutoff).distinct()
        )
    )
    counted = sum(
        _count_before_purge(session, version_id, floor if version_id in held else cutoff)
        for version_id in versions
    )
    counts: dict[str, int] = {}
    dropped: list[str] = []
    for table in reversed(pg.partitioned_tables()):
        key = pg.partition_key(table)
        removed = 0
        if session.get_bind().dialect.name == "postgresql":
            for part in pg.partitions(session, table.name):
                if part.end is None or part.end > cutoff:
                    continue
                if part.end > floor and _holds_held_rows(session, table, key, part, held):
                    continue  # emptied row by row below
                count = f'SELECT count(*) FROM "{part.name}"'  # noqa: S608 - catalogue names
                removed += session.scalar(text(count)) or 0
                pg.drop_partition(session, table.name, part.name)
                dropped.append(part.name)
        going = _going(table.c[key], table.c.version_id, cutoff, held, floor)
        removed += _deleted(session.execute(delete(table).where(going)))
        counts[table.name] = removed
    records = 0
    if versions:
        going = _going(PredictionRecord.ts, PredictionRecord.version_id, cutoff, held, floor)
        records = _deleted(
            session.execute(
                delete(PredictionRecord).where(PredictionRecord.version_id.in_(versions), going)
            )
        )
    result = PurgeResult(
        before=cutoff,
        partitions_dropped=tuple(dropped),
        blocks=counts["prediction_blocks"],
        labels=counts["prediction_labels"],
        records=records,
        blocks_counted=counted,
        held_versions=len(held),
        held_since=floor if held else None,
        held_reason=hold.reason if held and hold is not None else None,
    )
    audit.record(
        session,
        actor=actor,
        action="predictions.purge",
        object_type="prediction_storage",
        after=asdict(result),
    )
    return result


def _count_before_purge(session: Session, version_id: int, cutoff: datetime) -> int:
    """Drift over a purged window comes from the blocks' counts (``monitoring.purged``): make
    sure every block about to go has them against its version's active reference."""
    profile = active_profile(session, version_id)
    version = session.get(ModelVersion, version_id)
    if profile is None or version is None:
        return 0  # no reference yet: nothing to count against
    return count_before_purge(
        session,
        version_id=version_id,
        profile=profile,
        schema=FeatureSchema.from_version(version.features),
        before=cutoff,
    )


def _deleted(result: Result[Any]) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


def _holds_held_rows(
    session: Session, table: Any, key: str, part: pg.Partition, held: Collection[int]
) -> bool:
    if not held:
        return False
    column = table.c[key]
    span = column < part.end if part.start is None else (column >= part.start) & (column < part.end)
    found = select(column).where(span, table.c.version_id.in_(list(held))).limit(1)
    return session.scalar(found) is not None


def _holds_rows_before(
    session: Session, cutoff: datetime, hold: RetentionHold | None = None
) -> bool:
    """Whether a purge at ``cutoff`` (with ``hold``) would remove anything."""
    held, floor = _held_cut(cutoff, hold)
    for table in pg.partitioned_tables():
        column = table.c[pg.partition_key(table)]
        going = _going(column, table.c.version_id, cutoff, held, floor)
        if session.scalar(select(column).where(going).limit(1)) is not None:
            return True
    return False


def maintain(
    session: Session, settings: Settings, now: datetime, *, hold: HoldSource | None = None
) -> MaintenanceResult:
    """Prepare partitions ahead and apply the retention; idempotent, cheap when nothing is due.

    One process at a time does it (a transaction-scoped advisory lock on PostgreSQL; SQLite
    writers are serialised anyway); the others skip. ``hold`` names what the retention keeps
    regardless (the lifecycle's retention floor); the entry points always pass it.
    """
    if session.get_bind().dialect.name == "postgresql":
        if not session.scalar(select(func.pg_try_advisory_xact_lock(MAINTENANCE_LOCK))):
            return MaintenanceResult(created=(), purged=None, skipped=True)
        session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    created = ensure(
        session,
        days=settings.prediction_partition_days,
        ahead=settings.prediction_partitions_ahead,
        now=now,
    )
    purged = None
    if settings.prediction_retention_days:
        cutoff = period_start(now - timedelta(days=settings.prediction_retention_days), 1)
        kept = None if hold is None else hold(session, now)
        if _holds_rows_before(session, cutoff, kept):
            purged = purge(session, before=cutoff, actor=SYSTEM, hold=kept)
    if created or purged:
        logger.info(
            "prediction storage maintained: %d partitions created, purge %s",
            len(created),
            purged,
        )
    return MaintenanceResult(created=tuple(created), purged=purged)


def run_maintenance(
    factory: sessionmaker[Session], settings: Settings, *, hold: HoldSource | None = None
) -> MaintenanceResult:
    """:func:`maintain` now, in a transaction of its own (start-up, loops, task workers)."""
    with unit_of_work(factory) as session:
        return maintain(session, settings, datetime.now(UTC), hold=hold)
