from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from driftguard.api.deps import require
from driftguard.dashboard import service
from driftguard.dashboard.schemas import ExecutiveDashboard
from driftguard.http.deps import DashboardCacheDep, DbSession
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal

router = APIRouter(prefix="/dashboard", tags=["dashboard"])


@router.get("/executive")
def executive(
    session: DbSession,
    principal: Annotated[Principal, require(Permission.MODELS_READ)],
    cache: DashboardCacheDep,
) -> ExecutiveDashboard:
    """Models by team and stage, active alerts by severity, fairness findings and recent
    monitoring runs, over the teams the caller may see. Cached for up to
    ``DRIFTGUARD_DASHBOARD_CACHE_SECONDS`` per visibility scope, and refreshed at once after a
    write that changes it."""
    return service.executive(session, principal=principal, cache=cache)
