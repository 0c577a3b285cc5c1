from __future__ import annotations

from collections.abc import Collection
from typing import Annotated

from fastapi import APIRouter, Query

from driftguard.api.deps import require
from driftguard.errors import ErrorDetail, InvalidError
from driftguard.http.deps import DbSession
from driftguard.http.params import IdQuery, LimitQuery, ObjectId, OffsetQuery, VersionNumber
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.registry import service
from driftguard.registry.orm import Level, Stage
from driftguard.registry.repository import (
    MODEL_SORT_KEYS,
    VERSION_SORT_KEYS,
    ModelFilter,
    PageRequest,
)
from driftguard.registry.schemas import (
    ModelVersionCreate,
    ModelVersionRead,
    ModelVersionUpdate,
    RegisteredModelCreate,
    RegisteredModelRead,
    RegisteredModelUpdate,
)
from driftguard.schemas import Page, SearchText, Tag

router = APIRouter(prefix="/models", tags=["models"])

ModelId = ObjectId
Reader = Annotated[Principal, require(Permission.MODELS_READ)]
Writer = Annotated[Principal, require(Permission.MODELS_WRITE)]


def parse_sort(raw: str, allowed: Collection[str]) -> tuple[tuple[str, bool], ...]:
    """``"-created_at,name"`` → ``(("created_at", True), ("name", False))``, allow-list only."""
    keys: list[tuple[str, bool]] = []
    for part in raw.split(","):
        part = part.strip()
        key = part.removeprefix("-")
        if key not in allowed:
            choices = ", ".join(sorted(allowed))
            raise InvalidError(
                f"query.sort: unknown key {key!r}; allowed: {choices} (prefix - for descending)",
                code="invalid_sort",
                details=[ErrorDetail(loc="query.sort", msg=f"unknown sort key {key!r}")],
            )
        keys.append((key, part.startswith("-")))
    return tuple(keys)


@router.get("")
def list_models(
    session: DbSession,
    principal: Reader,
    q: Annotated[SearchText | None, Query(description="search name and description")] = None,
    team_id: IdQuery = None,
    stage: Annotated[Stage | None, Query(description="models with a version in this stage")] = None,
    tag: Annotated[list[Tag] | None, Query(max_length=10, description="all of these tags")] = None,
    owner_id: IdQuery = None,
    materiality: Level | None = None,
    include_archived: bool = False,
    sort: Annotated[str, Query(max_length=200, pattern=r"^[\w,\- ]+$")] = "name",
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[RegisteredModelRead]:
    """Search, filter, sort and paginate the models the caller may see."""
    flt = ModelFilter(
        q=q.strip() or None if q else None,
        team_id=team_id,
        stage=stage,
        tags=tuple(t.strip().lower() for t in tag or [] if t.strip()),
        owner_id=owner_id,
        materiality=materiality,
        include_archived=include_archived,
    )
    page = PageRequest(limit=limit, offset=offset, sort=parse_sort(sort, MODEL_SORT_KEYS))
    return service.list_models(session, principal=principal, flt=flt, page=page)


@router.post("", status_code=201)
def create_model(
    body: RegisteredModelCreate, session: DbSession, principal: Writer
) -> RegisteredModelRead:
    return service.create_model(session, principal=principal, data=body)


@router.get("/{model_id}")
def get_model(model_id: ModelId, session: DbSession, principal: Reader) -> RegisteredModelRead:
    return service.read_model(session, principal=principal, model_id=model_id)


@router.patch("/{model_id}")
def update_model(
    model_id: ModelId, body: RegisteredModelUpdate, session: DbSession, principal: Writer
) -> RegisteredModelRead:
    return service.update_model(session, principal=principal, model_id=model_id, data=body)


@router.post("/{model_id}/archive")
def archive_model(model_id: ModelId, session: DbSession, principal: Writer) -> RegisteredModelRead:
    """Retire the model: it stays readable (with ``include_archived``) but takes no new versions."""
    return service.archive_model(session, principal=principal, model_id=model_id)


@router.get("/{model_id}/versions")
def list_versions(
    model_id: ModelId,
    session: DbSession,
    principal: Reader,
    stage: Stage | None = None,
    sort: Annotated[str, Query(max_length=100, pattern=r"^[\w,\- ]+$")] = "-number",
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[ModelVersionRead]:
    page = PageRequest(limit=limit, offset=offset, sort=parse_sort(sort, VERSION_SORT_KEYS))
    return service.list_versions(
        session, principal=principal, model_id=model_id, stage=stage, page=page
    )


@router.post("/{model_id}/versions", status_code=201)
def create_version(
    model_id: ModelId, body: ModelVersionCreate, session: DbSession, principal: Writer
) -> ModelVersionRead:
    """Register a new version; its number is the next one for this model."""
    return service.create_version(session, principal=principal, model_id=model_id, data=body)


@router.get("/{model_id}/versions/{number}")
def get_version(
    model_id: ModelId, number: VersionNumber, session: DbSession, principal: Reader
) -> ModelVersionRead:
    version = service.get_version(session, principal=principal, model_id=model_id, number=number)
    return ModelVersionRead.model_validate(version)


@router.patch("/{model_id}/versions/{number}")
def update_version(
    model_id: ModelId,
    number: VersionNumber,
    body: ModelVersionUpdate,
    session: DbSession,
    principal: Writer,
) -> ModelVersionRead:
    return service.update_version(
        session, principal=principal, model_id=model_id, number=number, data=body
    )


@router.post("/{model_id}/versions/{number}/archive")
def archive_version(
    model_id: ModelId, number: VersionNumber, session: DbSession, principal: Writer
) -> ModelVersionRead:
    return service.archive_version(session, principal=principal, model_id=model_id, number=number)
