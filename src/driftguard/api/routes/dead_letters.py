from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from driftguard.api.deps import require
from driftguard.http.deps import DbSession
from driftguard.http.params import LimitQuery, OffsetQuery
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.jobs import dead_letters
from driftguard.jobs.schemas import DeadLetterRead
from driftguard.schemas import Page

router = APIRouter(prefix="/dead-letters", tags=["operations"])


@router.get("")
def list_dead_letters(
    session: DbSession,
    _principal: Annotated[Principal, require(Permission.DEAD_LETTERS_READ)],
    task_name: Annotated[
        str | None,
        Query(max_length=255, pattern=r"^[\w.]+$", description="e.g. driftguard.run_window"),
    ] = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[DeadLetterRead]:
    """Background tasks that failed on every try, newest first (administrators and auditors)."""
    return dead_letters.list_dead_letters(session, task_name=task_name, limit=limit, offset=offset)
