"""The Model Risk Index of a model version: current score with its breakdown, and history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from driftguard.api.deps import require
from driftguard.governance import risk
from driftguard.governance.schemas import RiskScoreRead
from driftguard.http.deps import DbSession
from driftguard.http.params import LimitQuery, ObjectId, OffsetQuery, VersionNumber
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.registry import service as registry_service
from driftguard.schemas import Page, Timestamp

router = APIRouter(prefix="/models/{model_id}/versions/{number}/risk", tags=["risk"])
Reader = Annotated[Principal, require(Permission.MODELS_READ)]
ModelId = ObjectId


@router.get("")
def current_risk(
    model_id: ModelId, number: VersionNumber, session: DbSession, principal: Reader
) -> RiskScoreRead:
    """The latest stored MRI with its breakdown (contributions sum to the score); a version
    never scored gets one computed now (``id`` null)."""
    return risk.current(session, principal=principal, model_id=model_id, number=number)


@router.get("/history")
def risk_history(
    model_id: ModelId,
    number: VersionNumber,
    session: DbSession,
    principal: Reader,
    start: Timestamp | None = None,
    end: Timestamp | None = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> Page[RiskScoreRead]:
    """The version's stored Model Risk Index scores, optionally within a time range."""
    return risk.history(
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        start=start,
        end=end,
        limit=limit,
        offset=offset,
    )


@router.post("", status_code=201)
def refresh_risk(
    model_id: ModelId,
    number: VersionNumber,
    session: DbSession,
    principal: Annotated[Principal, require(Permission.MONITORING_RUN)],
) -> RiskScoreRead:
    """Score the version now and keep the score in its history."""
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    principal.require_in_team(Permission.MONITORING_RUN, model.team_id)
    return risk.refresh(session, model=model, version=version, trigger="requested")
