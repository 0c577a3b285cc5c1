"""Queries for the audit chain. The chain head is read only under the chain lock."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import Select, delete, func, select, text
from sqlalchemy.orm import Session

from driftguard.audit.orm import AuditPurge, AuditRecord
from driftguard.audit.schemas import AuditFilter

# An arbitrary constant naming the chain's advisory lock on PostgreSQL.
CHAIN_LOCK_KEY = 0x4447_4155  # "DGAU"


def lock_chain(session: Session) -> None:
    """Serialise chain writers until the transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: a writing transaction already holds the
    database lock from its first statement (``BEGIN IMMEDIATE``, see ``db/engine.py``).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})


def head(session: Session) -> tuple[int, str] | None:
    """The newest record's seq and hash; after a purge that left nothing, the purge boundary."""
    row = session.execute(
        select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
    ).first()
    if row is None:
        row = session.execute(
            select(AuditPurge.last_seq, AuditPurge.last_hash)
            .order_by(AuditPurge.last_seq.desc())
            .limit(1)
        ).first()
    return (row[0], row[1]) if row is not None else None


def _filtered(flt: AuditFilter) -> Select[AuditRecord]:
    query = select(AuditRecord)
    if flt.actor_user_id is not None:
        query = query.where(AuditRecord.actor_user_id == flt.actor_user_id)
    if flt.actor_api_key_id is not None:
        query = query.where(AuditRecord.actor_api_key_id == flt.actor_api_key_id)
    if flt.action is not None:
        query = query.where(AuditRecord.action == flt.action)
    if flt.object_type is not None:
        query = query.where(AuditRecord.object_type == flt.object_type)
    if flt.object_id is not None:
        query = query.where(AuditRecord.object_id == flt.object_id)
    if flt.since is not None:
        query = query.where(AuditRecord.recorded_at >= flt.since)
    if flt.until is not None:
        query = query.where(AuditRecord.recorded_at < flt.until)
    return query


def list_records(
    session: Session, *, flt: AuditFilter, limit: int, offset: int
) -> tuple[Sequence[AuditRecord], int]:
    """A page of records matching the filter, newest first, and how many match."""
    query = _filtered(flt)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditRecord.seq.desc()).limit(limit).offset(offset))
    return rows.all(), total


def chain(session: Session, *, batch: int = 1000) -> Iterator[AuditRecord]:
    """Every record in sequence order, fetched in batches (keyset, so memory stays flat)."""
    after = 0
    while True:
        rows = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.seq > after)
            .order_by(AuditRecord.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
        session.expunge_all()


def last_seq_before(session: Session, moment: datetime) -> int | None:
    """The highest sequence number recorded before ``moment``, or None."""
    return session.scalar(select(func.max(AuditRecord.seq)).where(AuditRecord.recorded_at < moment))


def get_record(session: Session, seq: int) -> AuditRecord | None:
    """The record with this sequence number, or None."""
    return session.get(AuditRecord, seq)


def delete_through(session: Session, seq: int) -> int:
    """Delete every record up to and including ``seq``; how many went."""
    result = session.execute(
        delete(AuditRecord)
        .where(AuditRecord.seq <= seq)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def boundary_before(session: Session, first_seq: int) -> AuditPurge | None:
    """The purge that ended right before ``first_seq``, if one did."""
    return session.scalar(select(AuditPurge).where(AuditPurge.last_seq == first_seq - 1))
