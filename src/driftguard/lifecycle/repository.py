"""Lifecycle queries. Visibility is settled before these run: callers pass ids of objects the
caller may see (the registry's ``get_model`` / ``resolve_version`` check the team in SQL)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, cast, func, or_, select, update
from sqlalchemy.orm import Session

from driftguard.audit.orm import AuditRecord
from driftguard.db.base import utcnow
from driftguard.lifecycle.orm import (
    ModelCard,
    ModelCardRevision,
    ModelReview,
    RetentionException,
    VersionCard,
    VersionCardRevision,
)
from driftguard.monitoring.orm import MonitoringReport
from driftguard.registry.orm import ModelVersion, RegisteredModel

# --- model cards --------------------------------------------------------------------------------


def lock_model(session: Session, model_id: int) -> None:
    """Serialise the writers of one model's cards: the model row's lock on PostgreSQL (SQLite
    writers already hold the database's write lock, taken at ``BEGIN IMMEDIATE``)."""
    session.execute(
        select(RegisteredModel.id).where(RegisteredModel.id == model_id).with_for_update()
    )


def model_head(session: Session, model_id: int) -> ModelCard | None:
    return session.get(ModelCard, model_id, populate_existing=True)


def version_head(session: Session, version_id: int) -> VersionCard | None:
    return session.get(VersionCard, version_id, populate_existing=True)


def model_revision(session: Session, model_id: int, number: int) -> ModelCardRevision | None:
    return session.scalar(
        select(ModelCardRevision).where(
            ModelCardRevision.model_id == model_id, ModelCardRevision.number == number
        )
    )


def version_revision(session: Session, version_id: int, number: int) -> VersionCardRevision | None:
    return session.scalar(
        select(VersionCardRevision).where(
            VersionCardRevision.version_id == version_id, VersionCardRevision.number == number
        )
    )


def model_revisions(
    session: Session, model_id: int, *, limit: int, offset: int
) -> tuple[Sequence[ModelCardRevision], int]:
    """A page of the card's revisions, newest first, and how many there are."""
    query = select(ModelCardRevision).where(ModelCardRevision.model_id == model_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(ModelCardRevision.number.desc()).limit(limit).offset(offset)
    ).all()
    return rows, total


def version_revisions(
    session: Session, version_id: int, *, limit: int, offset: int
) -> tuple[Sequence[VersionCardRevision], int]:
    query = select(VersionCardRevision).where(VersionCardRevision.version_id == version_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(VersionCardRevision.number.desc()).limit(limit).offset(offset)
    ).all()
    return rows, total


def advance_model_head(
    session: Session, model_id: int, *, revision: int, values: dict[str, Any]
) -> bool:
    """Move the model card's head from ``revision`` to the next; False if it had moved."""
    return _advance(
        session,
        update(ModelCard).where(ModelCard.model_id == model_id, ModelCard.revision == revision),
        revision,
        values,
    )


def advance_version_head(
    session: Session, version_id: int, *, revision: int, values: dict[str, Any]
) -> bool:
    return _advance(
        session,
        update(VersionCard).where(
            VersionCard.version_id == version_id, VersionCard.revision == revision
        ),
        revision,
        values,
    )


def _advance(session: Session, statement: Any, revision: int, values: dict[str, Any]) -> bool:
    """A conditional update of a head. The database row moves, not the loaded object: read the
    head again (``model_head``, ``version_head``) to see it."""
    moved = session.execute(
        statement.values(revision=revision + 1, updated_at=utcnow(), **values).execution_options(
            synchronize_session=False
        )
    ).rowcount  # type: ignore[attr-defined]
    return bool(moved == 1)


def lifecycle_status(session: Session, model_id: int) -> str | None:
    return session.scalar(select(ModelCard.lifecycle_status).where(ModelCard.model_id == model_id))


def card_fact_rows(
    session: Session, version_ids: Collection[int]
) -> list[tuple[int, str | None, bool | None, bool | None]]:
    """Per version: its id, its model's lifecycle status and whether the model's card and its
    own card are complete (None where a card was never written), in one query."""
    rows = session.execute(
        select(
            ModelVersion.id,
            ModelCard.lifecycle_status,
            ModelCard.complete,
            VersionCard.complete,
        )
        .select_from(ModelVersion)
        .outerjoin(ModelCard, ModelCard.model_id == ModelVersion.model_id)
        .outerjoin(VersionCard, VersionCard.version_id == ModelVersion.id)
        .where(ModelVersion.id.in_(list(version_ids)))
    )
    return [(version_id, status, model, version) for version_id, status, model, version in rows]


# --- retention floor ----------------------------------------------------------------------------


def _current_class() -> Any:
    """The EU AI Act class of the model's current card revision (JSON text on both backends)."""
    return ModelCardRevision.content["ai_act_class"].as_string()


def _current_revision_join() -> Any:
    return (ModelCardRevision.model_id == ModelCard.model_id) & (
        ModelCardRevision.number == ModelCard.revision
    )


def ai_act_class(session: Session, model_id: int) -> str | None:
    return session.scalar(
        select(_current_class())
        .select_from(ModelCard)
        .join(ModelCardRevision, _current_revision_join())
        .where(ModelCard.model_id == model_id)
    )


def _in_force(now: datetime) -> Any:
    return (RetentionException.withdrawn_at.is_(None)) & (RetentionException.expires_at > now)


def held_model_ids(*, now: datetime, ai_act_class: str) -> Select[int]:
    """The models whose current card says ``ai_act_class`` and that have no exception in force
    at ``now``: a subquery, so a purge never holds a list of every model in memory."""
    excepted = select(RetentionException.model_id).where(_in_force(now))
    return (
        select(ModelCard.model_id)
        .join(ModelCardRevision, _current_revision_join())
        .where(_current_class() == ai_act_class, ModelCard.model_id.not_in(excepted))
    )


def held_version_ids(session: Session, *, now: datetime, ai_act_class: str) -> list[int]:
    models = held_model_ids(now=now, ai_act_class=ai_act_class)
    return list(
        session.scalars(
            select(ModelVersion.id)
            .where(ModelVersion.model_id.in_(models))
            .order_by(ModelVersion.id)
        )
    )


def retention_exception_in_force(
    session: Session, model_id: int, now: datetime
) -> RetentionException | None:
    return session.scalar(
        select(RetentionException)
        .where(RetentionException.model_id == model_id, _in_force(now))
        .order_by(RetentionException.id.desc())
        .limit(1)
    )


def latest_retention_exception(session: Session, model_id: int) -> RetentionException | None:
    return session.scalar(
        select(RetentionException)
        .where(RetentionException.model_id == model_id)
        .order_by(RetentionException.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )


def retention_exceptions(
    session: Session, model_id: int, *, limit: int
) -> Sequence[RetentionException]:
    return session.scalars(
        select(RetentionException)
        .where(RetentionException.model_id == model_id)
        .order_by(RetentionException.id.desc())
        .limit(limit)
    ).all()


def withdraw_retention_exception(
    session: Session, exception_id: int, *, now: datetime, values: dict[str, Any]
) -> bool:
    """Withdraw the exception if it is still in force; False if another writer got there first
    or it lapsed meanwhile."""
    moved = session.execute(
        update(RetentionException)
        .where(RetentionException.id == exception_id, _in_force(now))
        .values(withdrawn_at=now, **values)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(moved == 1)


def first_audit_seq_concerning(
    session: Session, *, now: datetime, since: datetime, ai_act_class: str
) -> int | None:
    """The first audit record, written at or after ``since``, about a held model (object
    ``model``) or one of its versions (object ``model_version``)."""
    models = held_model_ids(now=now, ai_act_class=ai_act_class)
    versions = select(ModelVersion.id).where(ModelVersion.model_id.in_(models))
    # Audit object ids are text: compare them with the ids written as text.
    model_ids = select(cast(ModelCard.model_id, String)).where(ModelCard.model_id.in_(models))
    version_ids = select(cast(ModelVersion.id, String)).where(ModelVersion.id.in_(versions))
    return session.scalar(
        select(func.min(AuditRecord.seq)).where(
            AuditRecord.recorded_at >= since,
            or_(
                (AuditRecord.object_type == "model") & AuditRecord.object_id.in_(model_ids),
                (AuditRecord.object_type == "model_version")
                & AuditRecord.object_id.in_(version_ids),
            ),
        )
    )


# --- periodic reviews ---------------------------------------------------------------------------


def model_owner_id(session: Session, model_id: int) -> int | None:
    """The owner named by the model's current card (None: no card, or no owner on it)."""
    content = session.scalar(
        select(ModelCardRevision.content)
        .join(
            ModelCard,
            (ModelCard.model_id == ModelCardRevision.model_id)
            & (ModelCard.revision == ModelCardRevision.number),
        )
        .where(ModelCard.model_id == model_id)
    )
    owner = None if content is None else content.get("owner_id")
    return owner if isinstance(owner, int) else None


def open_review(session: Session, version_id: int) -> ModelReview | None:
    return session.scalar(
        select(ModelReview).where(
            ModelReview.version_id == version_id, ModelReview.status == "open"
        )
    )


def review_for_update(session: Session, review_id: int, version_id: int) -> ModelReview | None:
    """The review of that version, its row locked on PostgreSQL (concurrent attestations queue
    there, then see the state the first left; SQLite writers already queue)."""
    return session.scalar(
        select(ModelReview)
        .where(ModelReview.id == review_id, ModelReview.version_id == version_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def claim_review(session: Session, review: ModelReview) -> bool:
    """Move the review's revision on from the one read; False if another transition did."""
    moved = session.execute(
        update(ModelReview)
        .where(ModelReview.id == review.id, ModelReview.revision == review.revision)
        .values(revision=review.revision + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if moved == 1:
        session.refresh(review)
    return bool(moved == 1)


def version_reviews(
    session: Session, version_id: int, *, limit: int, offset: int
) -> tuple[Sequence[ModelReview], int]:
    query = select(ModelReview).where(ModelReview.version_id == version_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(ModelReview.id.desc()).limit(limit).offset(offset)).all()
    return rows, total


def existing_reports(session: Session, version_id: int, report_ids: Collection[int]) -> set[int]:
    return set(
        session.scalars(
            select(MonitoringReport.id).where(
                MonitoringReport.version_id == version_id,
                MonitoringReport.id.in_(list(report_ids)),
            )
        )
    )


def last_completed_reviews(
    session: Session, version_ids: Collection[int] | None
) -> dict[int, datetime]:
    """When each version's last review was completed (``None``: of every version), in one
    query over ``ix_model_reviews_version_id_completed_at``."""
    query = (
        select(ModelReview.version_id, func.max(ModelReview.completed_at))
        .where(ModelReview.status == "completed")
        .group_by(ModelReview.version_id)
    )
    if version_ids is not None:
        query = query.where(ModelReview.version_id.in_(list(version_ids)))
    return {version_id: at for version_id, at in session.execute(query) if at is not None}
