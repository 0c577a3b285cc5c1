"""Registry use cases. Functions flush, never commit; visibility comes from the principal."""

from __future__ import annotations

from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.db.base import utcnow
from driftguard.errors import ConflictError, ErrorDetail, InvalidError, NotFoundError
from driftguard.identity import repository as identity_repository
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.registry import repository
from driftguard.registry.orm import ModelVersion, RegisteredModel, Stage
from driftguard.registry.repository import ModelFilter, PageRequest
from driftguard.registry.schemas import (
    ModelVersionCreate,
    ModelVersionRead,
    ModelVersionUpdate,
    RegisteredModelCreate,
    RegisteredModelRead,
    RegisteredModelUpdate,
)
from driftguard.schemas import Page


def to_read(model: RegisteredModel, tags: list[str]) -> RegisteredModelRead:
    latest = model.next_version_number - 1
    return RegisteredModelRead(
        id=model.id,
        team_id=model.team_id,
        name=model.name,
        description=model.description,
        use_case=model.use_case,
        materiality=model.materiality,
        criticality=model.criticality,
        tags=tags,
        owner_id=model.owner_id,
        monitoring_interval_minutes=model.monitoring_interval_minutes,
        latest_version=latest if latest > 0 else None,
        archived_at=model.archived_at,
        created_at=model.created_at,
        updated_at=model.updated_at,
    )


def list_models(
    session: Session, *, principal: Principal, flt: ModelFilter, page: PageRequest
) -> Page[RegisteredModelRead]:
    visible = principal.teams_with(Permission.MODELS_READ)
    rows, total = repository.list_models(session, visible=visible, flt=flt, page=page)
    tags = repository.tags_by_model(session, [m.id for m in rows])
    return Page(
        items=[to_read(m, tags[m.id]) for m in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


def get_model(session: Session, *, principal: Principal, model_id: int) -> RegisteredModel:
    """The model if the caller may see it; otherwise not found, whether or not it exists."""
    model = repository.get_model(
        session, model_id, visible=principal.teams_with(Permission.MODELS_READ)
    )
    if model is None:
        raise NotFoundError(f"model {model_id} not found")
    return model


def model_names(session: Session, *, principal: Principal, model_ids: list[int]) -> dict[int, str]:
    """Names of the models among ``model_ids`` that the caller may see."""
    visible = principal.teams_with(Permission.MODELS_READ)
    return repository.model_names(session, sorted(set(model_ids)), visible=visible)


def read_model(session: Session, *, principal: Principal, model_id: int) -> RegisteredModelRead:
    model = get_model(session, principal=principal, model_id=model_id)
    return to_read(model, repository.tags_by_model(session, [model.id])[model.id])


def _writable_model(session: Session, *, principal: Principal, model_id: int) -> RegisteredModel:
    model = get_model(session, principal=principal, model_id=model_id)
    principal.require_in_team(Permission.MODELS_WRITE, model.team_id)
    if model.archived_at is not None:
        raise ConflictError(f"model {model_id} is archived", code="archived")
    return model


def _check_owner(session: Session, owner_id: int) -> None:
    if identity_repository.get_user(session, owner_id) is None:
        raise InvalidError(
            f"owner {owner_id} is not a user",
            details=[ErrorDetail(loc="owner_id", msg="no such user")],
        )


def create_model(
    session: Session, *, principal: Principal, data: RegisteredModelCreate
) -> RegisteredModelRead:
    team = identity_repository.get_team(
        session, data.team_id, visible=principal.teams_with(Permission.MODELS_READ)
    )
    if team is None:
        raise NotFoundError(f"team {data.team_id} not found")
    principal.require_in_team(Permission.MODELS_WRITE, team.id)
    if repository.name_taken(session, team_id=team.id, name=data.name):
        raise ConflictError(f"team already has a model named {data.name!r}", code="name_taken")
    owner_id = data.owner_id if data.owner_id is not None else principal.user_id
    if owner_id is not None:
        _check_owner(session, owner_id)
    model = RegisteredModel(
        team_id=team.id,
        name=data.name,
        description=data.description,
        use_case=data.use_case,
        materiality=data.materiality,
        criticality=data.criticality,
        owner_id=owner_id,
        monitoring_interval_minutes=data.monitoring_interval_minutes,
        next_version_number=1,
    )
    session.add(model)
    session.flush()
    repository.replace_tags(session, model.id, data.tags)
    session.flush()
    created = to_read(model, sorted(set(data.tags)))
    _record_model(session, principal, "model.create", None, created)
    return created


def update_model(
    session: Session, *, principal: Principal, model_id: int, data: RegisteredModelUpdate
) -> RegisteredModelRead:
    model = _writable_model(session, principal=principal, model_id=model_id)
    before = to_read(model, repository.tags_by_model(session, [model.id])[model.id])
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "materiality", "criticality"):
        if key in changes and changes[key] is None:
            raise InvalidError(
                f"{key} may not be null", details=[ErrorDetail(key, "may not be null")]
            )
    if "name" in changes and repository.name_taken(
        session, team_id=model.team_id, name=changes["name"], except_id=model.id
    ):
        raise ConflictError(
            f"team already has a model named {changes['name']!r}", code="name_taken"
        )
    if changes.get("owner_id") is not None:
        _check_owner(session, changes["owner_id"])
    tags = changes.pop("tags", None)
    for key, value in changes.items():
        setattr(model, key, "" if value is None and key in ("description", "use_case") else value)
    if tags is not None:
        repository.replace_tags(session, model.id, tags)
    model.updated_at = utcnow()
    session.flush()
    after = read_model(session, principal=principal, model_id=model.id)
    _record_model(session, principal, "model.update", before, after)
    return after


def archive_model(session: Session, *, principal: Principal, model_id: int) -> RegisteredModelRead:
    model = get_model(session, principal=principal, model_id=model_id)
    principal.require_in_team(Permission.MODELS_WRITE, model.team_id)
    if model.archived_at is None:
        model.archived_at = utcnow()
        session.flush()
        audit.record(
            session,
            actor=principal,
            action="model.archive",
            object_type="model",
            object_id=model.id,
            before={"archived_at": None},
            after={"archived_at": model.archived_at},
        )
    return read_model(session, principal=principal, model_id=model.id)


def create_version(
    session: Session, *, principal: Principal, model_id: int, data: ModelVersionCreate
) -> ModelVersionRead:
    model = _writable_model(session, principal=principal, model_id=model_id)
    _check_stage_change(principal, model, data.stage)
    number = repository.take_version_number(session, model.id)
    session.expire(model, ["next_version_number", "updated_at"])
    version = ModelVersion(
        model_id=model.id,
        number=number,
        description=data.description,
        artifact_uri=data.artifact_uri,
        framework=data.framework,
        task_type=data.task_type,
        features=[f.model_dump(mode="json") for f in data.features],
        target=data.target,
        training_metrics=data.training_metrics,
        stage=data.stage,
        created_by_id=principal.user_id,
    )
    session.add(version)
    session.flush()
    created = ModelVersionRead.model_validate(version)
    _record_version(session, principal, "version.create", None, created)
    return created


def list_versions(
    session: Session, *, principal: Principal, model_id: int, stage: Stage | None, page: PageRequest
) -> Page[ModelVersionRead]:
    model = get_model(session, principal=principal, model_id=model_id)
    rows, total = repository.list_versions(session, model_id=model.id, stage=stage, page=page)
    return Page(
        items=[ModelVersionRead.model_validate(v) for v in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


def get_version(
    session: Session, *, principal: Principal, model_id: int, number: int
) -> ModelVersion:
    model = get_model(session, principal=principal, model_id=model_id)
    version = repository.get_version(session, model_id=model.id, number=number)
    if version is None:
        raise NotFoundError(f"model {model_id} has no version {number}")
    return version


def resolve_version(
    session: Session, *, principal: Principal, model_id: int, number: int
) -> tuple[RegisteredModel, ModelVersion]:
    """The model and its version, if the caller may see them (else not found)."""
    model = get_model(session, principal=principal, model_id=model_id)
    version = repository.get_version(session, model_id=model.id, number=number)
    if version is None:
        raise NotFoundError(f"model {model_id} has no version {number}")
    return model, version


def update_version(
    session: Session, *, principal: Principal, model_id: int, number: int, data: ModelVersionUpdate
) -> ModelVersionRead:
    model = _writable_model(session, principal=principal, model_id=model_id)
    version = get_version(session, principal=principal, model_id=model.id, number=number)
    before = ModelVersionRead.model_validate(version)
    changes = data.model_dump(exclude_unset=True)
    if "stage" in changes:
        if changes["stage"] is None:
            raise InvalidError(
                "stage may not be null", details=[ErrorDetail("stage", "may not be null")]
            )
        if version.stage is Stage.ARCHIVED and changes["stage"] is not Stage.ARCHIVED:
            raise ConflictError(f"version {number} is archived", code="archived")
        _check_stage_change(principal, model, changes["stage"], version.stage)
    for key, value in changes.items():
        setattr(version, key, "" if value is None else value)
    version.updated_at = utcnow()
    session.flush()
    after = ModelVersionRead.model_validate(version)
    _record_version(session, principal, "version.update", before, after)
    return after


def archive_version(
    session: Session, *, principal: Principal, model_id: int, number: int
) -> ModelVersionRead:
    """Versions are archived, never deleted: logged data and decisions keep pointing at them."""
    model = get_model(session, principal=principal, model_id=model_id)
    principal.require_in_team(Permission.MODELS_WRITE, model.team_id)
    version = get_version(session, principal=principal, model_id=model.id, number=number)
    if version.stage is not Stage.ARCHIVED:
        _check_stage_change(principal, model, Stage.ARCHIVED, version.stage)
        before = ModelVersionRead.model_validate(version)
        version.stage = Stage.ARCHIVED
        version.updated_at = utcnow()
        session.flush()
        after = ModelVersionRead.model_validate(version)
        _record_version(session, principal, "version.archive", before, after)
        return after
    return ModelVersionRead.model_validate(version)


def _check_stage_change(
    principal: Principal, model: RegisteredModel, stage: Stage, current: Stage | None = None
) -> None:
    # Production is entered and left through governance, not a field edit.
    if Stage.PRODUCTION in (stage, current) and stage is not current:
        principal.require_in_team(Permission.MODELS_PROMOTE, model.team_id)


def _record_model(
    session: Session,
    principal: Principal,
    action: str,
    before: RegisteredModelRead | None,
    after: RegisteredModelRead,
) -> None:
    audit.record(
        session,
        actor=principal,
        action=action,
        object_type="model",
        object_id=after.id,
        before=None if before is None else before.model_dump(mode="json"),
        after=after.model_dump(mode="json"),
    )


def _record_version(
    session: Session,
    principal: Principal,
    action: str,
    before: ModelVersionRead | None,
    after: ModelVersionRead,
) -> None:
    audit.record(
        session,
        actor=principal,
        action=action,
        object_type="model_version",
        object_id=after.id,
        before=None if before is None else before.model_dump(mode="json"),
        after=after.model_dump(mode="json"),
    )
