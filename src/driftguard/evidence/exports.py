"""A team's records as CSV, streamed: the inventory (models, versions, stage, MRI band), its
alerts and, for those who may read the audit trail, the audit records of its objects.

Cells are safe to open in a spreadsheet: a text cell starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return (which a spreadsheet would read as a formula) gets a leading ``'``.
Numbers are written as numbers (``-0.5`` stays a number).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from enum import Enum
from typing import Final, Literal

from sqlalchemy.orm import Session

from driftguard.errors import ForbiddenError, NotFoundError
from driftguard.evidence import repository
from driftguard.identity import service as identity_service
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.registry import repository as registry_repository
from driftguard.rules import tier_of

ExportKind = Literal["inventory", "alerts", "audit"]
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
Cell = str | int | float | bool | datetime | Enum | dict[str, object] | None


def safe_cell(value: Cell) -> str | int | float:
    """A value as written to CSV; text that a spreadsheet would run as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        value = str(value.value)
    if isinstance(value, dict):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def authorize(session: Session, *, principal: Principal, team_id: int, kind: ExportKind) -> None:
    """Another team's exports are not found; the audit export needs ``audit:read``."""
    identity_service.get_team(session, principal=principal, team_id=team_id)
    if not principal.can_in_team(Permission.MODELS_READ, team_id):
        raise NotFoundError(f"team {team_id} not found")
    if kind == "audit" and not principal.can_in_team(Permission.AUDIT_READ, team_id):
        raise ForbiddenError("the audit export requires audit:read")


INVENTORY_COLUMNS = (
    "model_id",
    "model",
    "team_id",
    "owner_id",
    "use_case",
    "materiality",
    "criticality",
    "tier",
    "tags",
    "version",
    "version_id",
    "stage",
    "task_type",
    "version_created_at",
    "mri",
    "mri_band",
)
ALERT_COLUMNS = (
    "alert_id",
    "model_id",
    "version_id",
    "rule",
    "fact",
    "subject",
    "severity",
    "status",
    "observed",
    "operator",
    "threshold",
    "message",
    "window_end",
    "opened_at",
    "acknowledged_at",
    "resolved_at",
    "resolution",
)
AUDIT_COLUMNS = (
    "seq",
    "recorded_at",
    "action",
    "actor_user_id",
    "actor_api_key_id",
    "object_type",
    "object_id",
    "before",
    "after",
    "prev_hash",
    "key_id",
    "hash",
)


def _inventory(session: Session, team_id: int) -> Iterator[Sequence[Sequence[Cell]]]:
    yield [INVENTORY_COLUMNS]
    for batch in repository.inventory_batches(session, team_id=team_id):
        bands = repository.latest_bands(session, [v.id for _, v in batch if v is not None])
        tags = registry_repository.tags_by_model(session, sorted({m.id for m, _ in batch}))
        rows: list[Sequence[Cell]] = []
        for model, version in batch:
            score, band = bands.get(version.id, (None, None)) if version else (None, None)
            rows.append(
                (
                    model.id,
                    model.name,
                    model.team_id,
                    model.owner_id,
                    model.use_case,
                    model.materiality,
                    model.criticality,
                    tier_of(model.materiality.value, model.criticality.value),
                    " ".join(tags.get(model.id, [])),
                    version.number if version else None,
                    version.id if version else None,
                    version.stage if version else None,
                    version.task_type if version else None,
                    version.created_at if version else None,
                    score,
                    band,
                )
            )
        yield rows


def _alerts(session: Session, team_id: int) -> Iterator[Sequence[Sequence[Cell]]]:
    yield [ALERT_COLUMNS]
    for batch in repository.alert_batches(session, team_id=team_id):
        yield [
            (
                a.id,
                a.model_id,
                a.version_id,
                a.rule,
                a.fact,
                a.subject,
                a.severity,
                a.status,
                a.observed,
                a.operator,
                a.threshold,
                a.message,
                a.window_end,
                a.opened_at,
                a.acknowledged_at,
                a.resolved_at,
                a.resolution,
            )
            for a in batch
        ]


def _audit(session: Session, team_id: int) -> Iterator[Sequence[Sequence[Cell]]]:
    yield [AUDIT_COLUMNS]
    for batch in repository.audit_batches(session, targets=repository.team_targets(team_id)):
        yield [
            (
                r.seq,
                r.recorded_at,
                r.action,
                r.actor_user_id,
                r.actor_api_key_id,
                r.object_type,
                r.object_id,
                r.before,
                r.after,
                r.prev_hash,
                r.key_id,
                r.hash,
            )
            for r in batch
        ]


EXPORTS = {"inventory": _inventory, "alerts": _alerts, "audit": _audit}


def csv_text(batches: Iterable[Sequence[Sequence[Cell]]]) -> Iterator[str]:
    """Each batch of rows as one chunk of CSV text (RFC 4180 quoting, CRLF line ends)."""
    for batch in batches:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerows([safe_cell(c) for c in row] for row in batch)
        yield buffer.getvalue()


def export_csv(session: Session, *, team_id: int, kind: ExportKind) -> Iterator[str]:
    """The team's ``kind`` export as CSV chunks; the caller has authorised it."""
    return csv_text(EXPORTS[kind](session, team_id))
