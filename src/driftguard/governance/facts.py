"""Everything a policy may judge about model versions, gathered in a fixed number of queries
whatever the number of versions (a portfolio simulation reads thousands at once)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVarTuple

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from driftguard.governance.orm import Deployment, DeploymentEvent
from driftguard.monitoring.alerts import ACTIVE
from driftguard.monitoring.orm import Alert, ReferenceDataset, VersionFacts
from driftguard.policy import WHOLE, Facts, compute_mri, tier_of
from driftguard.policy.document import Mri
from driftguard.policy.risk import RiskScore
from driftguard.registry.orm import ModelVersion, RegisteredModel

Ts = TypeVarTuple("Ts")
# Facts that move with the clock alone; a decision is not "stale" because a day passed.
TIME_DERIVED = frozenset({"monitoring.hours_since_last_run", "validation.days_since", "mri.score"})


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
            model_id=model.id, model_name=model.name, team_id=model.team_id,
            materiality=model.materiality.value, criticality=model.criticality.value,
            version_id=version.id, version_number=version.number,
            registered_at=version.created_at,
            features=frozenset(str(f.get("name")) for f in version.features),
            sensitive=sum(1 for f in version.features if f.get("sensitive")),
        )  # fmt: skip

    @property
    def tier(self) -> int:
        return tier_of(self.materiality, self.criticality)


def gather(session: Session, subjects: Sequence[Subject], *, now: datetime) -> dict[int, Facts]:
    """Measured facts per version id (without ``mri.score``; see :func:`with_risk`)."""
    if not subjects:
        return {}
    ids = [s.version_id for s in subjects]
    return _assemble(session, subjects, select_ids=None if len(ids) > 500 else ids, now=now)


def _assemble(
    session: Session, subjects: Sequence[Subject], *, select_ids: list[int] | None, now: datetime
) -> dict[int, Facts]:
    wanted = {s.version_id for s in subjects}

    def scoped(query: Select[*Ts], column: InstrumentedAttribute[int]) -> Select[*Ts]:
        # Small sets filter by id; large ones (portfolio) read the table and drop the rest.
        return query if select_ids is None else query.where(column.in_(select_ids))

    snapshots = {
        version_id: (facts, measured_at)
        for version_id, facts, measured_at in session.execute(
            scoped(
                select(VersionFacts.version_id, VersionFacts.facts, VersionFacts.measured_at),
                VersionFacts.version_id,
            )
        )
        if version_id in wanted
    }
    alerts = {
        version_id: (total, critical)
        for version_id, total, critical in session.execute(
            scoped(
                select(
                    Alert.version_id,
                    func.count(),
                    func.sum(case((Alert.severity == "critical", 1), else_=0)),
                )
                .where(Alert.status.in_(ACTIVE))
                .group_by(Alert.version_id),
                Alert.version_id,
            )
        )
    }
    references: dict[int, int] = {  # noqa: C416 (dict(rows) does not type-check)
        version_id: rows
        for version_id, rows in session.execute(
            scoped(
                select(ReferenceDataset.version_id, ReferenceDataset.row_count).where(
                    ReferenceDataset.is_active
                ),
                ReferenceDataset.version_id,
            )
        )
    }
    approved: dict[int, datetime] = {  # noqa: C416
        version_id: at
        for version_id, at in session.execute(
            scoped(
                select(Deployment.version_id, func.max(DeploymentEvent.at))
                .join(DeploymentEvent, DeploymentEvent.deployment_id == Deployment.id)
                .where(DeploymentEvent.to_status == "approved")
                .group_by(Deployment.version_id),
                Deployment.version_id,
            )
        )
    }
    result = {}
    for subject in subjects:
        version_id = subject.version_id
        values: dict[str, dict[str, float | None]] = {}
        snapshot = snapshots.get(version_id)
        if snapshot is not None:
            stored, measured_at = snapshot
            values.update(stored)  # read-only from here on: Facts never mutates its mappings
            hours = (now - measured_at).total_seconds() / 3600
            values["monitoring.hours_since_last_run"] = {WHOLE: max(0.0, hours)}
        total, critical = alerts.get(version_id, (0, 0))
        values["alerts.open"] = {WHOLE: float(total)}
        values["alerts.open_critical"] = {WHOLE: float(critical or 0)}
        rows = references.get(version_id)
        values["reference.rows"] = {WHOLE: None if rows is None else float(rows)}
        reviewed = approved.get(version_id) or subject.registered_at
        days = max(0.0, (now - reviewed).total_seconds() / 86400)
        values["validation.days_since"] = {WHOLE: days}
        values["model.tier"] = {WHOLE: float(subject.tier)}
        values["model.sensitive_attributes"] = {WHOLE: float(subject.sensitive)}
        result[version_id] = Facts.wrap(values)
    return result


def with_risk(facts: Facts, mri: Mri) -> tuple[Facts, RiskScore]:
    """The facts completed with the MRI they imply under ``mri`` (weights, scales, bands)."""
    risk = compute_mri(facts, mri)
    return facts.with_value("mri.score", risk.score), risk


def facts_hash(facts: Facts) -> str:
    """What a decision judged, minus what only the clock moves."""
    stable = {k: v for k, v in facts.as_dict().items() if k not in TIME_DERIVED}
    canonical = json.dumps(stable, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
