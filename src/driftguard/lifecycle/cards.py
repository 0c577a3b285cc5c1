"""Model cards: the inventory record of each model and of each of its versions.

A card is versioned like a policy: every write that changes it is a new, immutable revision with
its content hash, author and time; a write identical to the current revision makes none (a retry
is safe). ``If-Match`` (a revision number or content hash) makes a write conditional: stale → 412.

The model's card holds what is true of every version (owner, uses, data sources, vendor, the
lifecycle status, the EU AI Act class); a version's card what is true of that version only (what
changed, the training data window, the evaluation summary, its own limitations).

The lifecycle status moves along fixed edges (``TRANSITIONS``); a move is its own audited action
(``model.lifecycle``; ``model.retire`` for retiring), beside the card's revision. Retired is
final: the cards of a retired model no longer change and its versions cannot be deployed
(``require_deployable``).

Writers of one model's cards are serialised on the model's row (PostgreSQL; SQLite writers
already are), and each write moves the card's head by a conditional update of its revision.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.errors import (
    ConflictError,
    ErrorDetail,
    InvalidError,
    NotFoundError,
    StaleError,
)
from driftguard.identity import repository as identity_repository
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.lifecycle import repository, retention
from driftguard.lifecycle.orm import ModelCard, ModelCardRevision, VersionCard, VersionCardRevision
from driftguard.lifecycle.schemas import (
    AiActClass,
    Completeness,
    LifecycleStatus,
    ModelCardContent,
    ModelCardRead,
    VersionCardContent,
    VersionCardRead,
)
from driftguard.registry import service as registry_service
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.schemas import Page

# What a card must say to be complete (``card.complete``): the one list of required fields.
REQUIRED_MODEL_FIELDS = (
    "owner_id",
    "business_use",
    "intended_use",
    "out_of_scope_uses",
    "known_limitations",
    "data_sources",
    "ai_act_class",
)
REQUIRED_VERSION_FIELDS = (
    "changes",
    "training_data_start",
    "training_data_end",
    "evaluation_summary",
    "known_limitations",
)

S = LifecycleStatus
TRANSITIONS: dict[LifecycleStatus, frozenset[LifecycleStatus]] = {
    S.DEVELOPMENT: frozenset({S.VALIDATION, S.RETIRED}),
    S.VALIDATION: frozenset({S.DEVELOPMENT, S.APPROVED, S.RETIRED}),
    S.APPROVED: frozenset({S.VALIDATION, S.PRODUCTION, S.RETIRED}),
    S.PRODUCTION: frozenset({S.RETIRED}),
    S.RETIRED: frozenset(),
}


def completeness(content: Mapping[str, Any], required: Collection[str]) -> Completeness:
    """Which of the ``required`` fields ``content`` leaves empty (None, blank text, empty list).

    >>> completeness({"a": " ", "b": ["x"], "c": None}, ("a", "b", "c")).missing
    ['a', 'c']
    """
    missing = [name for name in required if _empty(content.get(name))]
    return Completeness(complete=not missing, missing=missing)


def _empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, dict)):
        return not value
    return False


def content_hash(content: Mapping[str, Any]) -> str:
    """SHA-256 of the content's canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- reading ------------------------------------------------------------------------------------


def read_model_card(session: Session, *, principal: Principal, model_id: int) -> ModelCardRead:
    model = registry_service.get_model(session, principal=principal, model_id=model_id)
    head = repository.model_head(session, model.id)
    if head is None:
        raise NotFoundError(f"model {model.id} has no card yet; PUT one to write it")
    return _model_read(_model_revision(session, model.id, head.revision))


def list_model_card_revisions(
    session: Session, *, principal: Principal, model_id: int, limit: int, offset: int
) -> Page[ModelCardRead]:
    model = registry_service.get_model(session, principal=principal, model_id=model_id)
    rows, total = repository.model_revisions(session, model.id, limit=limit, offset=offset)
    return Page(items=[_model_read(r) for r in rows], total=total, limit=limit, offset=offset)


def read_version_card(
    session: Session, *, principal: Principal, model_id: int, number: int
) -> VersionCardRead:
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    head = repository.version_head(session, version.id)
    if head is None:
        raise NotFoundError(
            f"version {version.number} of model {model.id} has no card yet; PUT one to write it"
        )
    return _version_read(version, _version_revision(session, version.id, head.revision))


def list_version_card_revisions(
    session: Session, *, principal: Principal, model_id: int, number: int, limit: int, offset: int
) -> Page[VersionCardRead]:
    _, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    rows, total = repository.version_revisions(session, version.id, limit=limit, offset=offset)
    return Page(
        items=[_version_read(version, r) for r in rows], total=total, limit=limit, offset=offset
    )


def _model_revision(session: Session, model_id: int, number: int) -> ModelCardRevision:
    row = repository.model_revision(session, model_id, number)
    assert row is not None, "a card's head names a stored revision"
    return row


def _version_revision(session: Session, version_id: int, number: int) -> VersionCardRevision:
    row = repository.version_revision(session, version_id, number)
    assert row is not None, "a card's head names a stored revision"
    return row


def _model_read(row: ModelCardRevision) -> ModelCardRead:
    done = completeness(row.content, REQUIRED_MODEL_FIELDS)
    return ModelCardRead.model_validate(
        {
            **row.content,
            "model_id": row.model_id,
            "revision": row.number,
            "content_hash": row.content_hash,
            "complete": done.complete,
            "missing": done.missing,
            "created_by_id": row.created_by_id,
            "created_by_api_key_id": row.created_by_api_key_id,
            "created_at": row.created_at,
        }
    )


def _version_read(version: ModelVersion, row: VersionCardRevision) -> VersionCardRead:
    done = completeness(row.content, REQUIRED_VERSION_FIELDS)
    return VersionCardRead.model_validate(
        {
            **row.content,
            "model_id": version.model_id,
            "version": version.number,
            "version_id": version.id,
            "revision": row.number,
            "content_hash": row.content_hash,
            "complete": done.complete,
            "missing": done.missing,
            "created_by_id": row.created_by_id,
            "created_by_api_key_id": row.created_by_api_key_id,
            "created_at": row.created_at,
        }
    )


# --- writing ------------------------------------------------------------------------------------


def put_model_card(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    data: ModelCardContent,
    prediction_retention_days: int,
    if_match: str | None = None,
) -> ModelCardRead:
    """Write the model's card: a new revision, or none if ``data`` is the current one.

    ``prediction_retention_days`` is the setting in force: classifying the model ``high`` while
    it is below the EU AI Act retention floor is refused unless an exception is recorded
    (``lifecycle.retention``); a card already ``high`` is not re-checked on each edit (the
    purges keep the floor for it anyway)."""
    model = _writable(session, principal, model_id)
    if data.vendor_name is not None and not data.vendor_name.strip():
        data = data.model_copy(update={"vendor_name": None})
    head = repository.model_head(session, model.id)
    current = LifecycleStatus(head.lifecycle_status) if head is not None else None
    target = data.lifecycle_status or current or LifecycleStatus.DEVELOPMENT
    content = data.model_dump(mode="json") | {"lifecycle_status": target.value}
    digest = content_hash(content)
    if head is not None and head.content_hash == digest:
        return _model_read(_model_revision(session, model.id, head.revision))  # a retry
    _check_precondition(if_match, head, f"model {model.id}'s card")
    _check_model_content(session, model, data)
    if repository.ai_act_class(session, model.id) != AiActClass.HIGH.value:
        retention.check_classification(
            session,
            model_id=model.id,
            ai_act_class=data.ai_act_class,
            prediction_retention_days=prediction_retention_days,
        )
    if current is not None and target is not current:
        _check_transition(model.id, current, target)
    elif current is LifecycleStatus.RETIRED:
        raise ConflictError(f"model {model.id} is retired; its card is final", code="model_retired")
    before = None if head is None else _head_state(head)
    number = _advance_model_head(session, model, head, digest, target, content)
    row = ModelCardRevision(
        model_id=model.id,
        number=number,
        content_hash=digest,
        content=content,
        lifecycle_status=target.value,
        created_by_id=principal.user_id,
        created_by_api_key_id=principal.api_key_id,
    )
    session.add(row)
    session.flush()
    read = _model_read(row)
    audit.record(
        session,
        actor=principal,
        action="model_card.revise",
        object_type="model",
        object_id=model.id,
        before=before,
        after={
            "revision": number,
            "content_hash": digest,
            "lifecycle_status": target.value,
            "complete": read.complete,
        },
    )
    if target is not current:
        audit.record(
            session,
            actor=principal,
            action="model.retire" if target is LifecycleStatus.RETIRED else "model.lifecycle",
            object_type="model",
            object_id=model.id,
            before={"lifecycle_status": None if current is None else current.value},
            after={"lifecycle_status": target.value, "card_revision": number},
        )
    return read


def put_version_card(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    data: VersionCardContent,
    if_match: str | None = None,
) -> VersionCardRead:
    """Write a version's card: a new revision, or none if ``data`` is the current one."""
    model = _writable(session, principal, model_id)
    _, version = registry_service.resolve_version(
        session, principal=principal, model_id=model.id, number=number
    )
    head = repository.version_head(session, version.id)
    content = data.model_dump(mode="json")
    digest = content_hash(content)
    if head is not None and head.content_hash == digest:
        return _version_read(version, _version_revision(session, version.id, head.revision))
    _check_precondition(if_match, head, f"version {version.number}'s card")
    _check_version_content(data)
    status = lifecycle_status(session, model.id)
    if status is LifecycleStatus.RETIRED:
        raise ConflictError(
            f"model {model.id} is retired; the cards of its versions are final",
            code="model_retired",
        )
    done = completeness(content, REQUIRED_VERSION_FIELDS)
    before = None if head is None else _head_state(head)
    if head is None:
        revision = 1
        session.add(
            VersionCard(
                version_id=version.id,
                model_id=model.id,
                revision=revision,
                content_hash=digest,
                complete=done.complete,
            )
        )
    else:
        moved = repository.advance_version_head(
            session,
            version.id,
            revision=head.revision,
            values={"content_hash": digest, "complete": done.complete},
        )
        revision = _claimed(moved, head.revision, f"version {version.number}'s card")
    row = VersionCardRevision(
        version_id=version.id,
        number=revision,
        content_hash=digest,
        content=content,
        created_by_id=principal.user_id,
        created_by_api_key_id=principal.api_key_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="version_card.revise",
        object_type="model_version",
        object_id=version.id,
        before=before,
        after={"revision": revision, "content_hash": digest, "complete": done.complete},
    )
    return _version_read(version, row)


def _writable(session: Session, principal: Principal, model_id: int) -> RegisteredModel:
    """The model, visible and writable by the caller, its row locked for this transaction
    (PostgreSQL; on SQLite the writer already holds the database's write lock)."""
    model = registry_service.get_model(session, principal=principal, model_id=model_id)
    principal.require_in_team(Permission.CARDS_WRITE, model.team_id)
    repository.lock_model(session, model.id)
    return model


def _check_precondition(
    if_match: str | None, head: ModelCard | VersionCard | None, what: str
) -> None:
    """``If-Match``: ``*``, a revision number or a content hash (quoted or not, comma-separated);
    none of them current → stale."""
    if if_match is None:
        return
    tokens = [t.strip().removeprefix("W/").strip('"') for t in if_match.split(",")]
    current = "none" if head is None else f"revision {head.revision} ({head.content_hash})"
    if head is not None and any(
        t == "*" or t == head.content_hash or (t.isdigit() and int(t) == head.revision)
        for t in tokens
    ):
        return
    raise StaleError(
        f"If-Match {if_match!r} is not {what}'s current state ({current}); reload and retry",
        details=[ErrorDetail(loc="header.If-Match", msg=f"current: {current}")],
    )


def _check_model_content(session: Session, model: RegisteredModel, data: ModelCardContent) -> None:
    problems: list[ErrorDetail] = []
    if data.third_party and data.vendor_name is None:
        problems.append(ErrorDetail("vendor_name", "required when third_party is true"))
    if not data.third_party and data.vendor_name is not None:
        problems.append(ErrorDetail("vendor_name", "only for a third-party model"))
    if data.ai_act_class is AiActClass.HIGH and data.annex_iii_area is None:
        problems.append(
            ErrorDetail("annex_iii_area", "required when ai_act_class is high (Art. 6(2))")
        )
    if data.ai_act_class is not AiActClass.HIGH and data.annex_iii_area is not None:
        problems.append(ErrorDetail("annex_iii_area", "only for ai_act_class high"))
    if data.owner_id is not None and (
        identity_repository.get_membership(session, model.team_id, data.owner_id) is None
    ):
        problems.append(
            ErrorDetail("owner_id", f"user {data.owner_id} is not a member of the model's team")
        )
    _raise_invalid(problems)


def _check_version_content(data: VersionCardContent) -> None:
    problems: list[ErrorDetail] = []
    start, end = data.training_data_start, data.training_data_end
    if start is not None and end is not None and end <= start:
        problems.append(ErrorDetail("training_data_end", "must be after training_data_start"))
    _raise_invalid(problems)


def _raise_invalid(problems: list[ErrorDetail]) -> None:
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidError(f"{first.loc}: {first.msg}{more}", details=problems)


def _check_transition(model_id: int, source: LifecycleStatus, target: LifecycleStatus) -> None:
    if target not in TRANSITIONS[source]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[source])) or "none (final)"
        raise ConflictError(
            f"model {model_id}: lifecycle_status cannot move from {source.value} to "
            f"{target.value} (from {source.value}: {allowed})",
            code="invalid_transition",
        )


def _advance_model_head(
    session: Session,
    model: RegisteredModel,
    head: ModelCard | None,
    digest: str,
    target: LifecycleStatus,
    content: Mapping[str, Any],
) -> int:
    """The new revision's number, with the head moved to it."""
    done = completeness(content, REQUIRED_MODEL_FIELDS)
    if head is None:
        session.add(
            ModelCard(
                model_id=model.id,
                team_id=model.team_id,
                revision=1,
                content_hash=digest,
                lifecycle_status=target.value,
                complete=done.complete,
            )
        )
        return 1
    moved = repository.advance_model_head(
        session,
        model.id,
        revision=head.revision,
        values={
            "content_hash": digest,
            "lifecycle_status": target.value,
            "complete": done.complete,
        },
    )
    return _claimed(moved, head.revision, f"model {model.id}'s card")


def _head_state(head: ModelCard | VersionCard) -> dict[str, Any]:
    state: dict[str, Any] = {"revision": head.revision, "content_hash": head.content_hash}
    if isinstance(head, ModelCard):
        state["lifecycle_status"] = head.lifecycle_status
    return state


def _claimed(moved: bool, revision: int, what: str) -> int:
    """The new revision's number, or a conflict if another write moved the head first (the
    model's lock makes that a safeguard, not a path)."""
    if not moved:
        raise ConflictError(
            f"{what} was changed by another request; reload and retry", code="concurrent_change"
        )
    return revision + 1


# --- what other packages read -------------------------------------------------------------------


def lifecycle_status(session: Session, model_id: int) -> LifecycleStatus | None:
    """The model's lifecycle status, from its card (None: no card written yet)."""
    status = repository.lifecycle_status(session, model_id)
    return None if status is None else LifecycleStatus(status)


def require_deployable(session: Session, model: RegisteredModel) -> None:
    """A retired model's versions are not deployed (409 naming the lifecycle status)."""
    status = lifecycle_status(session, model.id)
    if status is LifecycleStatus.RETIRED:
        raise ConflictError(
            f"model {model.id} is {status.value} (lifecycle_status {status.value}); "
            "its versions cannot be deployed",
            code="model_retired",
        )


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What governance reads of a version's cards: ``model.lifecycle`` and ``card.complete``
    (the model's card and the version's card both written and complete)."""

    lifecycle: LifecycleStatus | None
    model_card_complete: bool
    version_card_complete: bool

    @property
    def complete(self) -> bool:
        return self.model_card_complete and self.version_card_complete


def card_facts(session: Session, version_ids: Collection[int]) -> dict[int, CardFacts]:
    """The card facts of many versions in one query (versions not found are left out)."""
    if not version_ids:
        return {}
    rows = repository.card_fact_rows(session, version_ids)
    return {
        version_id: CardFacts(
            lifecycle=None if status is None else LifecycleStatus(status),
            model_card_complete=bool(model_complete),
            version_card_complete=bool(version_complete),
        )
        for version_id, status, model_complete, version_complete in rows
    }
