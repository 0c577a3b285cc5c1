from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from driftguard.db.base import Base, BigId, UTCDateTime, utcnow


class AuditRecord(Base):
    """One link of the chain. Rows are only ever inserted, and deleted only by an explicit purge.

    Actors are plain ids, not foreign keys: the trail must outlive the users and keys it names.
    """

    __tablename__ = "audit_records"
    __table_args__ = (
        Index("ix_audit_records_recorded_at", "recorded_at"),
        Index("ix_audit_records_actor_user_id", "actor_user_id"),
        Index("ix_audit_records_action", "action"),
        Index("ix_audit_records_object_type_object_id", "object_type", "object_id"),
    )

    # Assigned by the writer holding the chain lock: head + 1, so the sequence has no gaps.
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # "change" or "request"
    action: Mapped[str] = mapped_column(String(64))
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor_api_key_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    object_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    object_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    route: Mapped[str | None] = mapped_column(String(256), nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    client_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    # The audit key that sealed the record (``audit.keys``); None: sealed before keys existed.
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditPurge(Base):
    """Where a retention purge cut the chain: verification resumes from ``last_hash``."""

    __tablename__ = "audit_purges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    purged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    purged_before: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    last_hash: Mapped[str] = mapped_column(String(64))
    deleted: Mapped[int] = mapped_column(BigInteger)
