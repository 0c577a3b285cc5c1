"""Registry queries. Every read takes the caller's visible team ids and puts them in the SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    case,
    delete,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from driftguard.registry.orm import Level, ModelTag, ModelVersion, RegisteredModel, Stage

Visible = frozenset[int] | None  # None: every team
RowT = TypeVar("RowT")


def _level_rank(column: ColumnElement[Level]) -> ColumnElement[int]:
    return case((column == Level.LOW, 1), (column == Level.MEDIUM, 2), else_=3)


MODEL_SORT_KEYS: dict[str, ColumnElement[object]] = {
    "name": RegisteredModel.name,  # type: ignore[dict-item]
    "created_at": RegisteredModel.created_at,  # type: ignore[dict-item]
    "updated_at": RegisteredModel.updated_at,  # type: ignore[dict-item]
    "materiality": _level_rank(RegisteredModel.materiality),  # type: ignore[arg-type,dict-item]
    "criticality": _level_rank(RegisteredModel.criticality),  # type: ignore[arg-type,dict-item]
}
VERSION_SORT_KEYS: dict[str, ColumnElement[object]] = {
    "number": ModelVersion.number,  # type: ignore[dict-item]
    "created_at": ModelVersion.created_at,  # type: ignore[dict-item]
}


@dataclass(frozen=True, slots=True)
class ModelFilter:
    q: str | None = None
    team_id: int | None = None
    stage: Stage | None = None
    tags: tuple[str, ...] = ()
    owner_id: int | None = None
    materiality: Level | None = None
    include_archived: bool = False


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    offset: int
    sort: tuple[tuple[str, bool], ...] = field(default=(("name", False),))  # (key, descending)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered_models(visible: Visible, flt: ModelFilter) -> Select[RegisteredModel]:
    query = select(RegisteredModel)
    if visible is not None:
        query = query.where(RegisteredModel.team_id.in_(visible))
    if not flt.include_archived:
        query = query.where(RegisteredModel.archived_at.is_(None))
    if flt.q:
        pattern = f"%{_escape_like(flt.q.lower())}%"
        query = query.where(
            func.lower(RegisteredModel.name).like(pattern, escape="\\")
            | func.lower(RegisteredModel.description).like(pattern, escape="\\")
        )
    if flt.team_id is not None:
        query = query.where(RegisteredModel.team_id == flt.team_id)
    if flt.owner_id is not None:
        query = query.where(RegisteredModel.owner_id == flt.owner_id)
    if flt.materiality is not None:
        query = query.where(RegisteredModel.materiality == flt.materiality)
    if flt.stage is not None:
        query = query.where(
            exists().where(
                ModelVersion.model_id == RegisteredModel.id, ModelVersion.stage == flt.stage
            )
        )
    for tag in flt.tags:
        query = query.where(
            exists().where(ModelTag.model_id == RegisteredModel.id, ModelTag.tag == tag)
        )
    return query


def _paginate(
    session: Session,
    query: Select[RowT],
    order: Sequence[SQLColumnExpression[Any]],
    page: PageRequest,
) -> tuple[Sequence[RowT], int]:
    """One page and the exact total. A short page tells the total by itself, saving the count."""
    rows = session.scalars(query.order_by(*order).limit(page.limit).offset(page.offset)).all()
    if len(rows) < page.limit and (rows or page.offset == 0):
        return rows, page.offset + len(rows)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return rows, total


def _order(
    keys: dict[str, ColumnElement[object]], page: PageRequest
) -> list[ColumnElement[object]]:
    return [keys[k].desc() if descending else keys[k].asc() for k, descending in page.sort]


def list_models(
    session: Session, *, visible: Visible, flt: ModelFilter, page: PageRequest
) -> tuple[Sequence[RegisteredModel], int]:
    order = [*_order(MODEL_SORT_KEYS, page), RegisteredModel.id]
    return _paginate(session, _filtered_models(visible, flt), order, page)


def get_model(session: Session, model_id: int, *, visible: Visible) -> RegisteredModel | None:
    query = select(RegisteredModel).where(RegisteredModel.id == model_id)
    if visible is not None:
        query = query.where(RegisteredModel.team_id.in_(visible))
    return session.scalar(query)


def model_names(session: Session, model_ids: Sequence[int], *, visible: Visible) -> dict[int, str]:
    if not model_ids:
        return {}
    query = select(RegisteredModel.id, RegisteredModel.name).where(
        RegisteredModel.id.in_(model_ids)
    )
    if visible is not None:
        query = query.where(RegisteredModel.team_id.in_(visible))
    return {row[0]: row[1] for row in session.execute(query)}


def name_taken(session: Session, *, team_id: int, name: str, except_id: int | None = None) -> bool:
    query = select(RegisteredModel.id).where(
        RegisteredModel.team_id == team_id, RegisteredModel.name == name
    )
    if except_id is not None:
        query = query.where(RegisteredModel.id != except_id)
    return session.scalar(query) is not None


def tags_by_model(session: Session, model_ids: Sequence[int]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {mid: [] for mid in model_ids}
    if not model_ids:
        return result
    rows = session.execute(
        select(ModelTag.model_id, ModelTag.tag)
        .where(ModelTag.model_id.in_(model_ids))
        .order_by(ModelTag.model_id, ModelTag.tag)
    )
    for model_id, tag in rows:
        result[model_id].append(tag)
    return result


def replace_tags(session: Session, model_id: int, tags: Sequence[str]) -> None:
    session.execute(delete(ModelTag).where(ModelTag.model_id == model_id))
    session.add_all(ModelTag(model_id=model_id, tag=t) for t in dict.fromkeys(tags))


def take_version_number(session: Session, model_id: int) -> int:
    """Reserve the next version number with one atomic UPDATE ... RETURNING."""
    number = session.scalar(
        update(RegisteredModel)
        .where(RegisteredModel.id == model_id)
        .values(next_version_number=RegisteredModel.next_version_number + 1)
        .returning(RegisteredModel.next_version_number - 1)
        .execution_options(synchronize_session=False)
    )
    if number is None:
        raise LookupError(model_id)
    return int(number)


def list_versions(
    session: Session, *, model_id: int, stage: Stage | None, page: PageRequest
) -> tuple[Sequence[ModelVersion], int]:
    query = select(ModelVersion).where(ModelVersion.model_id == model_id)
    if stage is not None:
        query = query.where(ModelVersion.stage == stage)
    order = [*_order(VERSION_SORT_KEYS, page), ModelVersion.id]
    return _paginate(session, query, order, page)


def get_version(session: Session, *, model_id: int, number: int) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(ModelVersion.model_id == model_id, ModelVersion.number == number)
    )
