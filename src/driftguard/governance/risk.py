"""Model Risk Index scores: computed from a version's facts under the policy in force, stored
with their breakdown as history."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from driftguard.governance import policies
from driftguard.governance.facts import Subject, gather, with_risk
from driftguard.governance.orm import ModelRisk, RiskScore, RiskTrend
from driftguard.governance.schemas import RiskComponentRead, RiskScoreRead
from driftguard.identity.principal import Principal
from driftguard.registry import service as registry_service
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.rules import RiskScore as Computed
from driftguard.schemas import Page


def compute(
    session: Session, *, model: RegisteredModel, version: ModelVersion, now: datetime
) -> tuple[Computed, str]:
    """The MRI now, under the MRI settings of the policy in force for the model."""
    policy = policies.policy_for(session, model=model, environment=None)
    cadence = policy.document.review_cadence
    facts = gather(
        session, [Subject.of(model, version)], now=now, cadence=lambda _, tier: cadence.months(tier)
    )[version.id]
    _, risk = with_risk(facts, policy.document.mri)
    return risk, policy.applied.content_hash


def refresh(
    session: Session, *, model: RegisteredModel, version: ModelVersion, trigger: str
) -> RiskScoreRead:
    """Compute and store the version's MRI (after a monitoring run, a decision, on request)."""
    now = datetime.now(UTC)
    risk, policy_hash = compute(session, model=model, version=version, now=now)
    return store(
        session,
        model=model,
        version=version,
        risk=risk,
        policy_hash=policy_hash,
        trigger=trigger,
        at=now,
    )


def store(
    session: Session,
    *,
    model: RegisteredModel,
    version: ModelVersion,
    risk: Computed,
    policy_hash: str,
    trigger: str,
    at: datetime,
) -> RiskScoreRead:
    """Keep a computed score, with its breakdown, in the version's history."""
    row = RiskScore(
        version_id=version.id,
        model_id=model.id,
        team_id=model.team_id,
        score=risk.score,
        band=risk.band,
        tier=risk.tier,
        policy_hash=policy_hash,
        components=[dataclasses.asdict(c) for c in risk.components],
        trigger=trigger,
        computed_at=at,
    )
    session.add(row)
    session.flush()
    _make_current(session, row)
    return _read(row)


def _make_current(session: Session, row: RiskScore) -> None:
    """``row`` becomes its model's current score (concurrent stores leave the last one) and
    counts in its team's trend for the day."""
    values = {
        "team_id": row.team_id,
        "version_id": row.version_id,
        "risk_score_id": row.id,
        "score": row.score,
        "band": row.band,
        "main_driver": main_driver(row.components),
        "computed_at": row.computed_at,
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(ModelRisk)
        .values(model_id=row.model_id, **values)
        .on_conflict_do_update(index_elements=[ModelRisk.model_id], set_=values)
    )
    day = insert(RiskTrend).values(
        team_id=row.team_id,
        day=row.computed_at.astimezone(UTC).date(),
        score_sum=row.score,
        scores=1,
    )
    session.execute(
        day.on_conflict_do_update(
            index_elements=[RiskTrend.team_id, RiskTrend.day],
            set_={
                "score_sum": RiskTrend.score_sum + day.excluded.score_sum,
                "scores": RiskTrend.scores + 1,
            },
        )
    )


def main_driver(components: Sequence[Mapping[str, Any]]) -> str:
    """The component contributing most to a score (the first of equals)."""
    best = max(components, key=lambda c: float(c.get("contribution", 0.0)), default=None)
    return str(best["name"]) if best is not None else ""


def _read(row: RiskScore) -> RiskScoreRead:
    return RiskScoreRead(
        id=row.id,
        model_id=row.model_id,
        version_id=row.version_id,
        score=row.score,
        band=row.band,
        tier=row.tier,
        policy_hash=row.policy_hash,
        components=[RiskComponentRead.model_validate(c) for c in row.components],
        trigger=row.trigger,
        computed_at=row.computed_at,
    )


def current(session: Session, *, principal: Principal, model_id: int, number: int) -> RiskScoreRead:
    """The latest stored score; a version never scored gets one computed now (not stored)."""
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    row = session.scalar(
        select(RiskScore)
        .where(RiskScore.version_id == version.id)
        .order_by(RiskScore.computed_at.desc(), RiskScore.id.desc())
        .limit(1)
    )
    if row is not None:
        return _read(row)
    now = datetime.now(UTC)
    risk, policy_hash = compute(session, model=model, version=version, now=now)
    components = [dataclasses.asdict(c) for c in risk.components]
    return RiskScoreRead(
        id=None,
        model_id=model.id,
        version_id=version.id,
        score=risk.score,
        band=risk.band,
        tier=risk.tier,
        policy_hash=policy_hash,
        components=[RiskComponentRead.model_validate(c) for c in components],
        trigger="computed_now",
        computed_at=now,
    )


def history(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
    newest_first: bool = False,
) -> Page[RiskScoreRead]:
    """Stored scores of a version, oldest first (or newest first), optionally within
    ``[start, end)``."""
    _, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    query = select(RiskScore).where(RiskScore.version_id == version.id)
    if start is not None:
        query = query.where(RiskScore.computed_at >= start)
    if end is not None:
        query = query.where(RiskScore.computed_at < end)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = (
        (RiskScore.computed_at.desc(), RiskScore.id.desc())
        if newest_first
        else (RiskScore.computed_at, RiskScore.id)
    )
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    return Page(items=[_read(r) for r in rows], total=total, limit=limit, offset=offset)
