"""Recording and reading dead letters. Tasks record them in a transaction of their own."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from driftguard.jobs.orm import DeadLetter
from driftguard.jobs.schemas import DeadLetterRead
from driftguard.schemas import Page

MAX_ERROR_LENGTH = 2000


def record(
    session: Session,
    *,
    task_id: str,
    task_name: str,
    arguments: list[object],
    error: str,
    attempts: int,
) -> bool:
    """Record a task that gave up; False when this task id is recorded already."""
    known = session.scalar(select(DeadLetter.id).where(DeadLetter.task_id == task_id))
    if known is not None:
        return False
    session.add(
        DeadLetter(
            task_id=task_id,
            task_name=task_name,
            arguments=arguments,
            error=error[:MAX_ERROR_LENGTH],
            attempts=attempts,
        )
    )
    session.flush()
    return True


def list_dead_letters(
    session: Session, *, task_name: str | None, limit: int, offset: int
) -> Page[DeadLetterRead]:
    """Newest first."""
    query = select(DeadLetter)
    if task_name is not None:
        query = query.where(DeadLetter.task_name == task_name)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(DeadLetter.failed_at.desc(), DeadLetter.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return Page[DeadLetterRead](
        items=[DeadLetterRead.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


def count(session: Session) -> int:
    """How many dead letters are stored (tasks that gave up)."""
    return session.scalar(select(func.count()).select_from(DeadLetter)) or 0
