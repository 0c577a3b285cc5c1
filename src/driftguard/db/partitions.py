"""Native range partitioning by time on PostgreSQL: the catalogue, the names, the DDL.

A table declares itself partitioned with ``info={"partition_key": column}`` in its
``__table_args__``; the migration that creates it there makes it ``PARTITION BY RANGE`` on that
column, with a ``DEFAULT`` partition. Its partitions are named ``<table>_p<YYYYMMDD>`` after
the first moment (UTC) they hold and cover ``[start, end)``; rows no partition covers go to
``<table>_default``. SQLite keeps plain tables: nothing here runs there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

from driftguard.db.base import Base

_BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")
_PARTITION_NAME = re.compile(r"^(?P<parent>\w+)_(?:p\d{8}|default)$")


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    start: datetime | None  # None for the DEFAULT partition
    end: datetime | None

    @property
    def is_default(self) -> bool:
        """Whether this is the DEFAULT partition (rows outside every dated one)."""
        return self.start is None


def partitioned_tables() -> list[Table]:
    """The tables declared partitioned, in dependency order (referenced tables first)."""
    return [t for t in Base.metadata.sorted_tables if "partition_key" in t.info]


def partition_key(table: Table) -> str:
    """The column a partitioned table is partitioned by."""
    key = table.info["partition_key"]
    assert isinstance(key, str)
    return key


def is_partition_name(name: str) -> bool:
    """Whether ``name`` is a partition of a table declared partitioned (Alembic's
    autogenerate leaves those alone: the migration creates their parent, maintenance them)."""
    match = _PARTITION_NAME.match(name)
    if match is None:
        return False
    parent = Base.metadata.tables.get(match["parent"])
    return parent is not None and "partition_key" in parent.info


def partition_name(table: str, start: datetime) -> str:
    """The name of a table's dated partition starting at ``start`` (``<table>_pYYYYMMDD``)."""
    return f"{table}_p{start.astimezone(UTC):%Y%m%d}"


def default_name(table: str) -> str:
    """The name of a table's DEFAULT partition."""
    return f"{table}_default"


def partitions(session: Session, table: str) -> list[Partition]:
    """The table's partitions, the DEFAULT one first, then by start."""
    rows = session.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"
        ),
        {"t": table},
    ).all()
    found = []
    for name, bound in rows:
        match = _BOUNDS.search(bound)
        if match is None:
            found.append(Partition(name, None, None))
            continue
        start, end = (datetime.fromisoformat(v).astimezone(UTC) for v in match.groups())
        found.append(Partition(name, start, end))
    return sorted(found, key=lambda p: (p.start is not None, p.start or datetime.min))


def create_partition(session: Session, table: str, key: str, start: datetime, end: datetime) -> str:
    """Create the partition ``[start, end)``, moving into it the rows the DEFAULT partition
    holds for that range (PostgreSQL refuses a new range while the default has rows in it).

    The caller holds the maintenance lock; this takes an ACCESS EXCLUSIVE lock on the parent
    until its transaction ends, so call it in a short transaction of its own.
    """
    name = partition_name(table, start)
    bounds = {"start": start, "end": end}
    default = default_name(table)
    session.execute(text(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE'))
    stray = f'"{default}" WHERE "{key}" >= :start AND "{key}" < :end'
    moved = session.scalar(text(f"SELECT count(*) FROM {stray}"), bounds) or 0  # noqa: S608 - table names from the metadata
    if moved:
        session.execute(
            text(f"CREATE TEMPORARY TABLE moving ON COMMIT DROP AS SELECT * FROM {stray}"),  # noqa: S608 - table names from the metadata
            bounds,
        )
        session.execute(text(f"DELETE FROM {stray}"), bounds)  # noqa: S608 - table names from the metadata
    session.execute(
        text(
            f'CREATE TABLE "{name}" PARTITION OF "{table}" '
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
    )
    if moved:
        session.execute(text(f'INSERT INTO "{table}" SELECT * FROM moving'))  # noqa: S608 - table names from the metadata
        session.execute(text("DROP TABLE moving"))
    return name


def drop_partition(session: Session, table: str, name: str) -> None:
    """DETACH, then DROP: the rows go with their files, no row is deleted one by one."""
    session.execute(text(f'ALTER TABLE "{table}" DETACH PARTITION "{name}"'))
    session.execute(text(f'DROP TABLE "{name}"'))


def default_periods(session: Session, table: str, key: str) -> list[datetime]:
    """The UTC days of the rows waiting in the DEFAULT partition (it should hold none)."""
    day = f"date_trunc('day', \"{key}\" AT TIME ZONE 'UTC')"
    query = f'SELECT DISTINCT {day} FROM "{default_name(table)}"'  # noqa: S608 - metadata names
    rows = session.scalars(text(query))
    return sorted(day.replace(tzinfo=UTC) for day in rows)
