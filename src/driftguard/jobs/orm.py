"""Dead letters: tasks that failed on every try, kept for an operator to look at and replay."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from driftguard.db.base import Base, IdMixin, UTCDateTime, utcnow


class DeadLetter(IdMixin, Base):
    __tablename__ = "dead_letters"

    # Task ids are stable across retries (and derived from the window for monitoring runs), so
    # a task that dies twice is recorded once.
    task_id: Mapped[str] = mapped_column(String(255), unique=True)
    task_name: Mapped[str] = mapped_column(String(255), index=True)
    arguments: Mapped[list[object]] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
