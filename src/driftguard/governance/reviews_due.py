"""When each version's periodic review is due, under the policy in force, and what follows.

The cadence is the policy's (``reviews``: months per tier; defaults 12, 24, 36), taken from the
policy in force for the version's team and tier in the ``production`` environment. A version's
review clock runs from its last completed review; without one, from its first deployment to
production (``deployed_at`` of its first ``production`` deployment that went live); without one,
from its registration. The next review is due ``cadence`` calendar months after that (the day
clamped to the month's end: 31 January + 1 month is 28/29 February). A review is *overdue* once
that moment has passed and *due soon* within ``window_days`` before it.

What is listed and alerted are the versions live in production (a deployment ``deployed`` or
``suspended`` there) of models not archived: a review is an obligation of a model in use. The
``review.*`` facts are computed for any version (a policy may judge one before it goes live).

An overdue review raises one alert per version (rule ``review_overdue``, idempotent: the active
alert key ``(version, rule, subject)`` is unique), from the ``review_alerts`` maintenance job;
completing a review resolves it at once, and the job resolves any whose version is no longer
overdue (a new policy, a version no longer live).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.audit.schemas import SYSTEM
from driftguard.db.base import UTCDateTime, utcnow
from driftguard.governance import policies
from driftguard.governance.alert_events import OPENED, RESOLVED, announce
from driftguard.governance.alerts import ACTIVE
from driftguard.governance.orm import Alert, Deployment
from driftguard.governance.policies import InForce
from driftguard.governance.schemas import ReviewDueRead
from driftguard.identity.orm import Team
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.lifecycle import reviews
from driftguard.lifecycle.orm import ModelReview
from driftguard.lifecycle.schemas import ReviewAttest, ReviewRead, ReviewStatus
from driftguard.registry.orm import Level, ModelVersion, RegisteredModel, Stage
from driftguard.rules import WHOLE
from driftguard.rules.document import DEFAULT_REVIEW_CADENCE
from driftguard.schemas import Page

PRODUCTION = Stage.PRODUCTION.value
LIVE = ("deployed", "suspended")
RULE = "review_overdue"
FACT = "review.days_until_due"
DEFAULT_WINDOW_DAYS = 30
MAX_WINDOW_DAYS = 365
DueStatus = Literal["due_soon", "overdue"]
Since = Literal["review", "production", "registration"]


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus calendar months, the day clamped to the target month's last day.

    >>> from datetime import datetime
    >>> add_months(datetime(2025, 1, 31), 1), add_months(datetime(2024, 3, 15), 12)
    (datetime.datetime(2025, 2, 28, 0, 0), datetime.datetime(2025, 3, 15, 0, 0))
    """
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def review_since(
    registered_at: datetime, produced_at: datetime | None, reviewed_at: datetime | None
) -> tuple[Since, datetime]:
    """Where a version's review clock starts (see the module's docstring)."""
    if reviewed_at is not None:
        return "review", reviewed_at
    if produced_at is not None:
        return "production", produced_at
    return "registration", registered_at


def days_until(due_at: datetime, now: datetime) -> float:
    return (due_at - now).total_seconds() / 86400


Cadence = Callable[[int, int], int]


def default_cadence(team_id: int, tier: int) -> int:
    return DEFAULT_REVIEW_CADENCE.months(tier)


def cadence_in_force(session: Session) -> Cadence:
    """``(team_id, tier) -> months`` under the policies in force for production (one query)."""
    return cadence_of(policies.active_policies(session))


def cadence_of(active: list[InForce]) -> Cadence:
    """``(team_id, tier) -> months`` under the first of ``active`` (in precedence order) whose
    scope matches in production, else the default policy; each team and tier resolved once."""
    known: dict[tuple[int, int], int] = {}

    def months(team_id: int, tier: int) -> int:
        key = (team_id, tier)
        if key not in known:
            policy = policies.select_policy(
                active, team_id=team_id, tier=tier, environment=PRODUCTION
            )
            known[key] = policy.document.review_cadence.months(tier)
        return known[key]

    return months


def first_production(session: Session, version_ids: Collection[int] | None) -> dict[int, datetime]:
    """When each version first went live in production (``None``: every version), one query."""
    query = (
        select(Deployment.version_id, func.min(Deployment.deployed_at))
        .where(Deployment.environment == PRODUCTION, Deployment.deployed_at.is_not(None))
        .group_by(Deployment.version_id)
    )
    if version_ids is not None:
        query = query.where(Deployment.version_id.in_(list(version_ids)))
    return {version_id: at for version_id, at in session.execute(query) if at is not None}


# --- the production versions' clocks -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clock:
    model_id: int
    model_name: str
    team_id: int
    version_id: int
    version: int
    tier: int
    months: int
    since: Since
    since_at: datetime
    due_at: datetime

    def days_until_due(self, now: datetime) -> float:
        return days_until(self.due_at, now)

    def status(
        self, now: datetime, window_days: int
    ) -> Literal["scheduled", "due_soon", "overdue"]:
        if now > self.due_at:
            return "overdue"
        return "due_soon" if now >= self.due_at - timedelta(days=window_days) else "scheduled"

    def read(self, now: datetime, window_days: int) -> ReviewDueRead:
        return ReviewDueRead(
            model_id=self.model_id,
            model_name=self.model_name,
            team_id=self.team_id,
            version_id=self.version_id,
            version=self.version,
            tier=self.tier,
            cadence_months=self.months,
            since=self.since,
            since_at=self.since_at,
            due_at=self.due_at,
            days_until_due=round(self.days_until_due(now), 3),
            status=self.status(now, window_days),
        )


def production_clocks(
    session: Session,
    *,
    visible: frozenset[int] | None,
    now: datetime | None = None,
    status: DueStatus | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> list[Clock]:
    """The review clock of the versions live in production in the teams ``visible`` (None: all);
    with ``status``, only those ``overdue`` or ``due_soon`` at ``now``, filtered in SQL."""
    query = _live_versions(
        session, visible=visible, now=now or utcnow(), status=status, window_days=window_days
    )
    months_of = cadence_in_force(session)
    clocks = []
    for row in session.execute(query):
        model_id, name, team_id, tier, version_id, number, registered_at, produced_at = row[:8]
        reviewed_at = row[8]
        months = months_of(team_id, tier)
        since, since_at = review_since(registered_at, produced_at, reviewed_at)
        clocks.append(
            Clock(
                model_id=model_id,
                model_name=name,
                team_id=team_id,
                version_id=version_id,
                version=number,
                tier=tier,
                months=months,
                since=since,
                since_at=since_at,
                due_at=add_months(since_at, months),
            )
        )
    return clocks


def _rank(column: Any) -> Any:
    return case((column == Level.LOW, 1), (column == Level.MEDIUM, 2), else_=3)


def _live_versions(
    session: Session,
    *,
    visible: frozenset[int] | None,
    now: datetime,
    status: DueStatus | None,
    window_days: int,
) -> Select[Any]:
    """One statement: each live production version with its tier (``rules.tier_of`` in SQL), its
    first production deployment and last completed review (correlated subqueries over
    ``ix_deployments_version_id_environment_status`` and
    ``ix_model_reviews_version_id_completed_at``), and, with ``status``, only those whose clock
    started before the thresholds the cadence in force puts on each tier (and team)."""
    version = ModelVersion.id
    produced = (
        select(func.min(Deployment.deployed_at))
        .where(Deployment.version_id == version, Deployment.environment == PRODUCTION)
        .scalar_subquery()
    )
    reviewed = (
        select(func.max(ModelReview.completed_at))
        .where(
            ModelReview.version_id == version,
            ModelReview.status == ReviewStatus.COMPLETED.value,
        )
        .scalar_subquery()
    )
    live = (
        select(Deployment.id)
        .where(
            Deployment.version_id == version,
            Deployment.environment == PRODUCTION,
            Deployment.status.in_(LIVE),
        )
        .exists()
    )
    rank = _rank(RegisteredModel.materiality) + _rank(RegisteredModel.criticality)
    inner = (
        select(
            RegisteredModel.id.label("model_id"),
            RegisteredModel.name.label("name"),
            RegisteredModel.team_id.label("team_id"),
            case((rank >= 5, 1), (rank == 4, 2), else_=3).label("tier"),
            version.label("version_id"),
            ModelVersion.number.label("number"),
            ModelVersion.created_at.label("registered_at"),
            produced.label("produced_at"),
            reviewed.label("reviewed_at"),
            func.coalesce(reviewed, produced, ModelVersion.created_at, type_=UTCDateTime()).label(
                "since_at"
            ),
        )
        .select_from(RegisteredModel)
        .join(ModelVersion, ModelVersion.model_id == RegisteredModel.id)
        .where(RegisteredModel.archived_at.is_(None), live)
    )
    if visible is not None:
        inner = inner.where(RegisteredModel.team_id.in_(sorted(visible)))
    rows = inner.subquery()
    query = select(*[c for c in rows.c if c.key != "since_at"])
    if status is None:
        return query
    # Each version's thresholds by its tier (and team): one CASE, so the clock's start (two
    # correlated subqueries) is computed once or twice per row, not once per group.
    late: list[tuple[Any, Any]] = []
    soon: list[tuple[Any, Any]] = []
    for tier, months, teams in _cadence_groups(session, visible):
        group = rows.c.tier == tier
        if teams is not None:
            group = and_(group, rows.c.team_id.in_(teams))
        late.append((group, _at(_threshold(now, months, timedelta(0), inclusive=False))))
        if status == "due_soon":
            ahead = timedelta(days=window_days)
            soon.append((group, _at(_threshold(now, months, ahead, inclusive=True))))
    late_at = case(*late, else_=None)
    if status == "overdue":
        return query.where(rows.c.since_at < late_at)
    soon_at = case(*soon, else_=None)
    return query.where(rows.c.since_at >= late_at, rows.c.since_at < soon_at)


def _at(moment: datetime) -> Any:
    return literal(moment, type_=UTCDateTime())


def _cadence_groups(
    session: Session, visible: frozenset[int] | None
) -> list[tuple[int, int, list[int] | None]]:
    """``(tier, months, teams)``: teams None when the cadence of a tier is the same for every
    team (no active policy scoped to teams), else the teams of each cadence."""
    active = policies.active_policies(session)
    months_of = cadence_of(active)
    if not any(p.document.scope.teams is not None for p in active):
        return [(tier, months_of(0, tier), None) for tier in (1, 2, 3)]
    teams = sorted(visible) if visible is not None else list(session.scalars(select(Team.id)))
    groups: list[tuple[int, int, list[int] | None]] = []
    for tier in (1, 2, 3):
        by_months: dict[int, list[int]] = {}
        for team in teams:
            by_months.setdefault(months_of(team, tier), []).append(team)
        groups += [(tier, months, members) for months, members in by_months.items()]
    return groups


def _threshold(now: datetime, months: int, ahead: timedelta, *, inclusive: bool) -> datetime:
    """The earliest clock start whose due date is past ``now + ahead`` (``inclusive``: at or
    before it counts as reached), so "reached" is exactly ``since_at < threshold``. The due date
    grows with the start (never falls), so a binary search over microseconds around
    ``now + ahead - months`` finds it; month-end clamping makes it exact where a subtraction
    of months would not be."""
    limit = now + ahead

    def reached(start: datetime) -> bool:
        due = add_months(start, months)
        return due <= limit if inclusive else due < limit

    low = add_months(limit, -months) - timedelta(days=4)
    high = add_months(limit, -months) + timedelta(days=4)
    assert reached(low)
    assert not reached(high)
    span = (high - low) // timedelta(microseconds=1)
    lo, hi = 0, span  # reached(low + lo), not reached(low + hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if reached(low + timedelta(microseconds=mid)):
            lo = mid
        else:
            hi = mid
    return low + timedelta(microseconds=hi)


def _level(value: Any) -> str:
    return str(getattr(value, "value", value))


def list_due(
    session: Session,
    *,
    principal: Principal,
    status: DueStatus,
    window_days: int = DEFAULT_WINDOW_DAYS,
    limit: int,
    offset: int,
    now: datetime | None = None,
) -> Page[ReviewDueRead]:
    """Production versions whose review is ``overdue`` or ``due_soon`` (within ``window_days``),
    soonest due first, in the caller's teams."""
    now = now or utcnow()
    visible = principal.teams_with(Permission.MODELS_READ)
    matching = [
        c
        for c in production_clocks(session, visible=visible)
        if c.status(now, window_days) == status
    ]
    matching.sort(key=lambda c: (c.due_at, c.version_id))
    page = matching[offset : offset + limit]
    return Page(
        items=[c.read(now, window_days) for c in page],
        total=len(matching),
        limit=limit,
        offset=offset,
    )


def count_overdue(session: Session, *, visible: frozenset[int] | None, now: datetime) -> int:
    query = _live_versions(
        session, visible=visible, now=now, status="overdue", window_days=DEFAULT_WINDOW_DAYS
    )
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


# --- alerts --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertRound:
    opened: list[int]
    resolved: list[int]


def sync_alerts(session: Session, *, now: datetime) -> AlertRound:
    """Open one alert per overdue production review that has none; resolve the active ones
    whose version is no longer overdue. Idempotent: a second round changes nothing."""
    overdue = {c.version_id: c for c in production_clocks(session, visible=None) if now > c.due_at}
    active = {
        a.version_id: a
        for a in session.scalars(select(Alert).where(Alert.rule == RULE, Alert.status.in_(ACTIVE)))
    }
    opened, resolved = [], []
    for version_id, clock in sorted(overdue.items()):
        if version_id in active:
            alert = active[version_id]
            alert.observed, alert.last_seen_at = clock.days_until_due(now), now
            continue
        alert = _overdue_alert(clock, now)
        session.add(alert)
        session.flush()
        announce(
            session, [(OPENED, alert)], model_name=clock.model_name, version_number=clock.version
        )
        opened.append(version_id)
    for version_id, alert in sorted(active.items()):
        if version_id not in overdue:
            _resolve(session, alert, now, "the version's periodic review is no longer overdue")
            resolved.append(version_id)
    session.flush()
    if opened or resolved:
        audit.record(
            session,
            actor=SYSTEM,
            action="review.overdue_alerts",
            object_type="alert",
            after={
                "opened": len(opened),
                "resolved": len(resolved),
                "opened_version_ids": opened[:100],
                "resolved_version_ids": resolved[:100],
            },
        )
    return AlertRound(opened, resolved)


def _overdue_alert(clock: Clock, now: datetime) -> Alert:
    return Alert(
        team_id=clock.team_id,
        model_id=clock.model_id,
        version_id=clock.version_id,
        rule=RULE,
        subject=WHOLE,
        fact=FACT,
        # SR 11-7 expects the most material models reviewed at least annually: late is critical.
        severity="critical" if clock.tier == 1 else "warning",
        status="open",
        observed=clock.days_until_due(now),
        operator="<",
        threshold=0.0,
        message=(
            f"periodic review overdue since {clock.due_at.date().isoformat()} "
            f"(tier {clock.tier}: every {clock.months} months, since the {clock.since} of "
            f"{clock.since_at.date().isoformat()})"
        ),
        run_id=None,
        window_end=clock.due_at,
        opened_at=now,
        last_seen_at=now,
    )


def _resolve(session: Session, alert: Alert, now: datetime, why: str) -> None:
    alert.status, alert.resolved_at, alert.resolution = "resolved", now, why
    session.flush()
    model = session.get(RegisteredModel, alert.model_id)
    version = session.get(ModelVersion, alert.version_id)
    assert model is not None  # alerts cascade with their model and version
    assert version is not None
    announce(session, [(RESOLVED, alert)], model_name=model.name, version_number=version.number)


def attest(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    review_id: int,
    data: ReviewAttest,
) -> ReviewRead:
    """Complete a review (``lifecycle.reviews.attest``) and resolve its version's overdue alert
    in the same transaction."""
    review = reviews.attest(
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        review_id=review_id,
        data=data,
    )
    alert = session.scalar(
        select(Alert).where(
            and_(Alert.version_id == review.version_id, Alert.rule == RULE),
            Alert.status.in_(ACTIVE),
        )
    )
    if alert is not None:
        before = alert.status
        _resolve(session, alert, utcnow(), f"review {review.id} completed ({review.conclusion})")
        audit.record(
            session,
            actor=principal,
            action="alert.resolve",
            object_type="alert",
            object_id=alert.id,
            before={"status": before},
            after={"status": "resolved", "resolution": alert.resolution},
        )
    return review


def reviewed_and_produced(
    session: Session, version_ids: Sequence[int] | None
) -> tuple[dict[int, datetime], dict[int, datetime]]:
    """The last completed review and first production deployment of versions, two queries."""
    return reviews.last_completed(session, version_ids), first_production(session, version_ids)
