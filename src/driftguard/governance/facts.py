"""Everything a policy may judge about model versions, gathered in a fixed number of queries
whatever the number of versions (a portfolio simulation reads thousands at once)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVarTuple

import numpy as np
from sqlalchemy import Connection, DateTime, Row, Select, case, func, select, type_coerce
from sqlalchemy.orm import Session

from driftguard.governance.alerts import ACTIVE
from driftguard.governance.orm import Alert, Deployment, DeploymentEvent
from driftguard.governance.reviews_due import (
    PRODUCTION,
    Cadence,
    add_months,
    days_until,
    default_cadence,
    review_since,
    reviewed_and_produced,
)
from driftguard.ingest.orm import ReferenceDataset
from driftguard.lifecycle.orm import (
    FINDING_OPEN_STATUSES,
    Finding,
    ModelCard,
    ModelCardRevision,
    ModelReview,
    Validation,
    VersionCard,
)
from driftguard.monitoring.orm import VersionFacts
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.rules import WHOLE, Facts, compute_mri, tier_of
from driftguard.rules.document import Mri
from driftguard.rules.facts import LIFECYCLE_CODES, VALIDATION_STATUS_CODES
from driftguard.rules.portfolio import FactTable, Key
from driftguard.rules.risk import RiskScore

Ts = TypeVarTuple("Ts")
# Facts that move with the clock alone; a decision is not "stale" because a day passed.
TIME_DERIVED = frozenset(
    {
        "monitoring.hours_since_last_run",
        "validation.days_since",
        "mri.score",
        "review.days_until_due",
        "review.overdue",
    }
)


@dataclass(frozen=True, slots=True)
class Subject:
    """A version under judgement with what is known about it before any fact is read
    (plain values: a portfolio simulation builds ten thousand of these)."""

    model_id: int
    model_name: str
    team_id: int
    materiality: str
    criticality: str
    version_id: int
    version_number: int
    registered_at: datetime
    features: frozenset[str]
    sensitive: int

    @classmethod
    def of(cls, model: RegisteredModel, version: ModelVersion) -> Subject:
        return cls(
            model_id=model.id,
            model_name=model.name,
            team_id=model.team_id,
            materiality=model.materiality.value,
            criticality=model.criticality.value,
            version_id=version.id,
            version_number=version.number,
            registered_at=version.created_at,
            features=frozenset(str(f.get("name")) for f in version.features),
            sensitive=version.sensitive_attributes,
        )

    tier: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tier", tier_of(self.materiality, self.criticality))


def gather(
    session: Session,
    subjects: Sequence[Subject],
    *,
    now: datetime,
    cadence: Cadence = default_cadence,
) -> dict[int, Facts]:
    """Measured facts per version id (without ``mri.score``; see :func:`with_risk`).
    ``cadence``: the review cadence in months per team and tier, under the policy the caller
    judges with (``review.*``); the default policy's when not given."""
    if not subjects:
        return {}
    inputs = _read(session, subjects, snapshot=[VersionFacts.facts], now=now)
    whole = inputs.whole(subjects, now, cadence)
    result = {}
    for row, subject in enumerate(subjects):
        values: dict[str, dict[str, float | None]] = {}
        snapshot = inputs.snapshots.get(subject.version_id)
        if snapshot is not None:
            # Read-only from here on: Facts never mutates its mappings.
            values.update(snapshot[0][0])
        for fact, column in whole.items():
            values[fact] = {WHOLE: column[row]}
        result[subject.version_id] = Facts.wrap(values)
    return result


@dataclass(frozen=True, slots=True)
class Portfolio:
    """The facts of many versions as one table (row ``i`` is ``subjects[i]``), for
    :mod:`driftguard.rules.portfolio`; ``irregular`` rows hold a value only the per-version
    engine judges (see :func:`~driftguard.rules.portfolio.summarise`)."""

    table: FactTable
    irregular: frozenset[int]


def gather_portfolio(
    session: Session,
    subjects: Sequence[Subject],
    *,
    now: datetime,
    reads: Iterable[Key],
    cadence: Cadence = default_cadence,
) -> Portfolio:
    """The ``reads`` columns of the versions of ``subjects``: what :func:`gather` reads, with
    each snapshot's summary values extracted by the database, so no document is parsed."""
    extracted = sorted({k for k in reads if k[0] not in _WHOLE_FACTS})
    columns: list[Any] = [VersionFacts.summary.is_(None)]
    for fact, highest in extracted:
        at = 0 if highest else 2
        columns.append(VersionFacts.summary[(fact, at)].as_float())
        columns.append(VersionFacts.summary[(fact, at + 1)].as_string())
    inputs = _read(session, subjects, snapshot=columns, now=now)
    blank = (None,) * len(columns)
    snapshots = inputs.snapshots
    # One tuple per column, in the order of ``subjects`` (None where there is no snapshot).
    found = list(
        zip(
            *[snapshots[s.version_id][0] if s.version_id in snapshots else blank for s in subjects],
            strict=True,
        )
    ) or [()] * len(columns)
    # A snapshot without a summary holds a value that is not a number.
    irregular = frozenset(row for row, missing in enumerate(found[0]) if missing)
    values = {
        (fact, True): np.array(column, dtype=np.float64)  # None becomes NaN
        for fact, column in inputs.whole(subjects, now, cadence).items()
    }
    names = {}
    for i, column in enumerate(extracted):
        values[column] = np.array(found[1 + 2 * i], dtype=np.float64)
        names[column] = found[2 + 2 * i]
    return Portfolio(FactTable(len(subjects), values, names), irregular)


_WHOLE_FACTS = (
    "monitoring.hours_since_last_run",
    "alerts.open",
    "alerts.open_critical",
    "reference.rows",
    "validation.days_since",
    "model.tier",
    "model.sensitive_attributes",
    "review.days_until_due",
    "review.overdue",
    # --- lifecycle facts ---
    "validation.status",
    "findings.open_high",
    "findings.open_critical",
    "findings.overdue",
    "card.complete",
    "model.lifecycle",
    "model.eu_high_risk",
)


@dataclass(frozen=True, slots=True)
class _Inputs:
    """Everything read about a set of versions: the snapshot column asked for (and when it was
    measured) and the facts measured outside monitoring runs."""

    snapshots: dict[int, tuple[tuple[Any, ...], datetime]]
    alerts: dict[int, tuple[int, int | None]]
    references: dict[int, int]
    approved: dict[int, datetime]
    lifecycle: _Lifecycle
    # Periodic review (reviews_due.py): the last completed review, the first production deployment.
    reviewed: dict[int, datetime] = field(default_factory=dict)
    produced: dict[int, datetime] = field(default_factory=dict)

    def whole(
        self, subjects: Sequence[Subject], now: datetime, cadence: Cadence
    ) -> dict[str, list[float | None]]:
        """Per fact of ``_WHOLE_FACTS``, its value for each of ``subjects`` (None: not measured)."""
        ids = [s.version_id for s in subjects]
        measured = [self.snapshots[v][1] if v in self.snapshots else None for v in ids]
        alerts = [self.alerts.get(v, (0, 0)) for v in ids]
        references = [self.references.get(v) for v in ids]
        # The MRI's staleness: since the last completed periodic review when there is one.
        reviewed = [
            self.reviewed.get(v) or self.approved.get(v) or s.registered_at
            for v, s in zip(ids, subjects, strict=True)
        ]
        due: list[float | None] = [
            days_until(
                add_months(
                    review_since(s.registered_at, self.produced.get(v), self.reviewed.get(v))[1],
                    cadence(s.team_id, s.tier),
                ),
                now,
            )
            for v, s in zip(ids, subjects, strict=True)
        ]
        return {
            "monitoring.hours_since_last_run": [
                None if at is None else max(0.0, (now - at).total_seconds() / 3600)
                for at in measured
            ],
            "alerts.open": [float(total) for total, _ in alerts],
            "alerts.open_critical": [float(critical or 0) for _, critical in alerts],
            "reference.rows": [None if rows is None else float(rows) for rows in references],
            "validation.days_since": [
                max(0.0, (now - at).total_seconds() / 86400) for at in reviewed
            ],
            "model.tier": [float(s.tier) for s in subjects],
            "model.sensitive_attributes": [float(s.sensitive) for s in subjects],
            "review.days_until_due": due,
            "review.overdue": [None if d is None else float(d < 0) for d in due],
            **self.lifecycle.whole(subjects),
        }


# --- lifecycle facts -----------------------------------------------------------
# Read beside the other inputs, in the same fixed number of statements: as columns of the one
# statement that reads a few versions, as one statement per table for a portfolio.


@dataclass(frozen=True, slots=True)
class _Lifecycle:
    """The lifecycle's inputs: per version its latest decided validation and its findings not
    closed (high, critical, overdue); per model its card (lifecycle status, complete, EU AI Act
    class); per version whether its own card is complete."""

    validations: dict[int, str] = field(default_factory=dict)
    findings: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    model_cards: dict[int, tuple[str, bool, str | None]] = field(default_factory=dict)
    version_cards: dict[int, bool] = field(default_factory=dict)

    def whole(self, subjects: Sequence[Subject]) -> dict[str, list[float | None]]:
        ids = [s.version_id for s in subjects]
        findings = [self.findings.get(v, (0, 0, 0)) for v in ids]
        cards = [self.model_cards.get(s.model_id) for s in subjects]
        validations = [self.validations.get(v) for v in ids]
        return {
            "validation.status": [
                None if status is None else float(VALIDATION_STATUS_CODES[status])
                for status in validations
            ],
            "findings.open_high": [float(high) for high, _, _ in findings],
            "findings.open_critical": [float(critical) for _, critical, _ in findings],
            "findings.overdue": [float(late) for _, _, late in findings],
            "card.complete": [
                float(card is not None and card[1] and self.version_cards.get(v, False))
                for card, v in zip(cards, ids, strict=True)
            ],
            "model.lifecycle": [
                None if card is None else float(LIFECYCLE_CODES[card[0]]) for card in cards
            ],
            "model.eu_high_risk": [float(card is not None and card[2] == "high") for card in cards],
        }


_DECIDED = Validation.status != "open"
_AI_ACT_CLASS = ModelCardRevision.content["ai_act_class"].as_string()


def _finding_counts(today: date) -> tuple[Any, Any, Any]:
    """Sums of open high, open critical and overdue findings (over the rows grouped)."""

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return (
        count(Finding.severity == "high"),
        count(Finding.severity == "critical"),
        count(Finding.due_date < today),
    )


def _read_lifecycle(connection: Connection, wanted: set[int], today: date) -> _Lifecycle:
    """Every version's lifecycle inputs, table by table, keeping the versions ``wanted``."""
    latest = select(func.max(Validation.id)).where(_DECIDED).group_by(Validation.version_id)
    validations = {
        version_id: status
        for version_id, status in fetch_all(
            connection,
            select(Validation.version_id, Validation.status).where(Validation.id.in_(latest)),
        )
        if version_id in wanted
    }
    findings = {
        version_id: (int(high), int(critical), int(late))
        for version_id, high, critical, late in fetch_all(
            connection,
            select(Finding.version_id, *_finding_counts(today))
            .where(Finding.status.in_(FINDING_OPEN_STATUSES))
            .group_by(Finding.version_id),
        )
        if version_id in wanted
    }
    model_cards = {
        model_id: (status, bool(complete), ai_act_class)
        for model_id, status, complete, ai_act_class in fetch_all(
            connection,
            select(
                ModelCard.model_id, ModelCard.lifecycle_status, ModelCard.complete, _AI_ACT_CLASS
            ).outerjoin(
                ModelCardRevision,
                (ModelCardRevision.model_id == ModelCard.model_id)
                & (ModelCardRevision.number == ModelCard.revision),
            ),
        )
    }
    version_cards = {
        version_id: bool(complete)
        for version_id, complete in fetch_all(
            connection, select(VersionCard.version_id, VersionCard.complete)
        )
        if version_id in wanted
    }
    return _Lifecycle(validations, findings, model_cards, version_cards)


# Up to this many versions are read by id in one statement; more (a portfolio) are read table
# by table, each table once, dropping the versions not asked for.
READ_BY_ID_LIMIT = 500


def _read(
    session: Session, subjects: Sequence[Subject], *, snapshot: Sequence[Any], now: datetime
) -> _Inputs:
    """``snapshot``: the columns of each version's facts snapshot to read; ``now`` decides
    which findings are overdue (past their due date, UTC)."""
    wanted = {s.version_id for s in subjects}
    today = now.astimezone(UTC).date()
    connection = session.connection()  # plain rows: no ORM loading for ten thousand of them
    if len(wanted) <= READ_BY_ID_LIMIT:
        return _read_by_id(connection, sorted(wanted), snapshot, today)
    snapshots = {
        version_id: (tuple(read), measured_at)
        for version_id, measured_at, *read in fetch_all(
            connection,
            select(
                VersionFacts.version_id,
                driver_time(connection, VersionFacts.measured_at),
                *snapshot,
            ),
        )
        if version_id in wanted
    }
    alerts = {
        version_id: (total, critical)
        for version_id, total, critical in fetch_all(
            connection,
            select(Alert.version_id, func.count(), func.sum(case((_CRITICAL, 1), else_=0)))
            .where(Alert.status.in_(ACTIVE))
            .group_by(Alert.version_id),
        )
    }
    references: dict[int, int] = {  # noqa: C416 (dict(rows) does not type-check)
        version_id: rows
        for version_id, rows in fetch_all(
            connection,
            select(ReferenceDataset.version_id, func.max(ReferenceDataset.row_count))
            .where(ReferenceDataset.is_active)
            .group_by(ReferenceDataset.version_id),
        )
    }
    approved: dict[int, datetime] = {  # noqa: C416
        version_id: at
        for version_id, at in fetch_all(
            connection,
            select(Deployment.version_id, driver_time(connection, func.max(DeploymentEvent.at)))
            .join(DeploymentEvent, DeploymentEvent.deployment_id == Deployment.id)
            .where(DeploymentEvent.to_status == "approved")
            .group_by(Deployment.version_id),
        )
    }
    lifecycle = _read_lifecycle(connection, wanted, today)
    # The periodic review's clock: two more queries, whatever the number of versions.
    reviewed, produced = reviewed_and_produced(session, None)
    return _Inputs(
        snapshots,
        alerts,
        references,
        approved,
        lifecycle,
        {v: at for v, at in reviewed.items() if v in wanted},
        {v: at for v, at in produced.items() if v in wanted},
    )


_CRITICAL = Alert.severity == "critical"


def driver_time(connection: Connection, column: Any) -> Any:
    """``column`` (a ``UTCDateTime``) as the driver returns it on PostgreSQL: an aware datetime
    in the session's zone, without the per-row conversion to UTC, which costs milliseconds over
    the ten thousand rows of a portfolio. The facts only subtract such times, and a difference
    of aware datetimes does not depend on their zones. SQLite returns naive values: converted."""
    if connection.dialect.name == "postgresql":
        return type_coerce(column, DateTime(timezone=True))
    return column


def _read_by_id(
    connection: Connection, version_ids: Sequence[int], snapshot: Sequence[Any], today: date
) -> _Inputs:
    """What :func:`_read` reads, for a few versions, in one statement (a deployment request
    judges one): the snapshot and the cards joined, the other facts as correlated subqueries."""
    version = ModelVersion.id
    active = (Alert.version_id == version) & Alert.status.in_(ACTIVE)
    not_closed = (Finding.version_id == version) & Finding.status.in_(FINDING_OPEN_STATUSES)
    rows = fetch_all(
        connection,
        select(
            version,
            VersionFacts.version_id,
            VersionFacts.measured_at,
            select(func.count()).where(active).scalar_subquery(),
            select(func.count()).where(active, _CRITICAL).scalar_subquery(),
            select(func.max(ReferenceDataset.row_count))
            .where(ReferenceDataset.version_id == version, ReferenceDataset.is_active)
            .scalar_subquery(),
            select(func.max(DeploymentEvent.at))
            .join(Deployment, DeploymentEvent.deployment_id == Deployment.id)
            .where(Deployment.version_id == version, DeploymentEvent.to_status == "approved")
            .scalar_subquery(),
            select(func.max(ModelReview.completed_at))
            .where(ModelReview.version_id == version, ModelReview.status == "completed")
            .scalar_subquery(),
            select(func.min(Deployment.deployed_at))
            .where(Deployment.version_id == version, Deployment.environment == PRODUCTION)
            .scalar_subquery(),
            # Lifecycle facts: the latest decided validation, findings not closed, the cards.
            select(Validation.status)
            .where(Validation.version_id == version, _DECIDED)
            .order_by(Validation.id.desc())
            .limit(1)
            .scalar_subquery(),
            *(
                select(count).where(not_closed).scalar_subquery()
                for count in _finding_counts(today)
            ),
            ModelVersion.model_id,
            ModelCard.lifecycle_status,
            ModelCard.complete,
            _AI_ACT_CLASS,
            VersionCard.complete,
            *snapshot,
        )
        .outerjoin(VersionFacts, VersionFacts.version_id == version)
        .outerjoin(ModelCard, ModelCard.model_id == ModelVersion.model_id)
        .outerjoin(
            ModelCardRevision,
            (ModelCardRevision.model_id == ModelCard.model_id)
            & (ModelCardRevision.number == ModelCard.revision),
        )
        .outerjoin(VersionCard, VersionCard.version_id == version)
        .where(version.in_(version_ids)),
    )
    inputs = _Inputs({}, {}, {}, {}, _Lifecycle())
    lifecycle = inputs.lifecycle
    for (
        version_id,
        measured,
        measured_at,
        total,
        critical,
        references,
        approved_at,
        reviewed_at,
        produced_at,
        validation,
        high,
        critical_findings,
        late,
        model_id,
        card_status,
        card_complete,
        ai_act_class,
        version_card_complete,
        *read,
    ) in rows:
        if validation is not None:
            lifecycle.validations[version_id] = validation
        if high or critical_findings or late:
            lifecycle.findings[version_id] = (int(high), int(critical_findings), int(late))
        if card_status is not None:
            lifecycle.model_cards[model_id] = (card_status, bool(card_complete), ai_act_class)
        if version_card_complete is not None:
            lifecycle.version_cards[version_id] = bool(version_card_complete)
        if measured is not None:
            inputs.snapshots[version_id] = (tuple(read), measured_at)
        if total:
            inputs.alerts[version_id] = (total, critical)
        if references is not None:
            inputs.references[version_id] = references
        if approved_at is not None:
            inputs.approved[version_id] = approved_at
        if reviewed_at is not None:
            inputs.reviewed[version_id] = reviewed_at
        if produced_at is not None:
            inputs.produced[version_id] = produced_at
    return inputs


def fetch_all(connection: Connection, query: Select[*Ts]) -> Sequence[Row[*Ts]]:
    """Every row at once: iterating a result fetches row by row, many times slower."""
    return connection.execute(query).all()


def with_risk(facts: Facts, mri: Mri) -> tuple[Facts, RiskScore]:
    """The facts completed with the MRI they imply under ``mri`` (weights, scales, bands)."""
    risk = compute_mri(facts, mri)
    return facts.with_value("mri.score", risk.score), risk


def facts_hash(facts: Facts) -> str:
    """What a decision judged, minus what only the clock moves."""
    stable = {k: v for k, v in facts.as_dict().items() if k not in TIME_DERIVED}
    canonical = json.dumps(stable, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
