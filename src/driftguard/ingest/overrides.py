"""Per-prediction human overrides (EU AI Act Art. 14): a person replaced the model's decision.

A batch is stored whole or not at all. An override is immutable and keyed by version and
``prediction_id``: sending the same one again changes nothing (a duplicate), sending a different
one for a prediction already overridden is a conflict, and nothing of the batch is stored.

An override may name a prediction the version has not stored (logged later, logged elsewhere,
or purged): it is kept, since the human decision happened, and reported back as unmatched. The
prediction's time is copied when it is known, from the key row that de-duplicates predictions
(one primary-key probe per id, the lookup late labels use, no block is read); monitoring counts
a window's overrides by that time, so an unmatched override is counted in no window.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.errors import ConflictError
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.ingest import repository
from driftguard.ingest.frames import Problems
from driftguard.ingest.orm import PredictionOverride
from driftguard.ingest.schemas import OverrideBatch, OverrideRead, OverrideResult
from driftguard.ingest.service import _canonical_label
from driftguard.registry import service as registry_service
from driftguard.schemas import Page

_NAMED = 20  # conflicting ids named in the error


def log_overrides(
    session: Session, *, principal: Principal, model_id: int, number: int, batch: OverrideBatch
) -> OverrideResult:
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    principal.require_in_team(Permission.OVERRIDES_WRITE, model.team_id)
    repository.lock_version(session, version.id)  # concurrent batches see each other's rows
    problems = Problems()
    wanted: dict[str, PredictionOverride] = {}
    for index, item in enumerate(batch.overrides):
        original = _canonical_label(item.original_decision)
        final = _canonical_label(item.final_decision)
        if item.prediction_id in wanted:
            problems.add(
                f"overrides.{index}.prediction_id", "repeats an earlier override of this batch"
            )
        if original == final:
            problems.add(
                f"overrides.{index}.final_decision",
                "equals original_decision: an override changes the decision",
            )
        wanted[item.prediction_id] = PredictionOverride(
            version_id=version.id,
            prediction_id=item.prediction_id,
            original_decision=original,
            final_decision=final,
            reason=item.reason,
            overridden_by=item.overridden_by,
            logged_by_id=principal.user_id,
            logged_by_api_key_id=principal.api_key_id,
        )
    problems.raise_if_any("overrides rejected")
    stored = repository.overrides_of(session, version.id, list(wanted))
    conflicts = [p for p, row in stored.items() if not _same(row, wanted[p])]
    if conflicts:
        named = ", ".join(sorted(conflicts)[:_NAMED])
        raise ConflictError(
            f"{len(conflicts)} prediction(s) already have a different override: {named}",
            code="override_conflict",
        )
    new = [row for p, row in wanted.items() if p not in stored]
    times = repository.prediction_times(session, version.id, [row.prediction_id for row in new])
    for row in new:
        row.prediction_ts = times.get(row.prediction_id)
    session.add_all(new)
    session.flush()
    result = OverrideResult(
        received=len(wanted),
        new=len(new),
        duplicates=len(stored),
        unmatched_prediction_ids=[
            p for p in wanted if (stored[p] if p in stored else wanted[p]).prediction_ts is None
        ],
    )
    if new:
        audit.record(
            session,
            actor=principal,
            action="overrides.log",
            object_type="model_version",
            object_id=version.id,
            after={
                "received": result.received,
                "new": result.new,
                "duplicates": result.duplicates,
                "unmatched": len(result.unmatched_prediction_ids),
            },
        )
    return result


def _same(stored: PredictionOverride, sent: PredictionOverride) -> bool:
    return (
        stored.original_decision,
        stored.final_decision,
        stored.reason,
        stored.overridden_by,
    ) == (sent.original_decision, sent.final_decision, sent.reason, sent.overridden_by)


def list_overrides(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    limit: int,
    offset: int,
) -> Page[OverrideRead]:
    """The version's overrides, oldest first."""
    _, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    rows, total = repository.list_overrides(session, version.id, limit=limit, offset=offset)
    return Page(
        items=[OverrideRead.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )
