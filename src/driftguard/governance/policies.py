"""Policy versions: validated, hashed, immutable; one active version per policy.

Which policy is in force for a decision: among the active versions whose scope matches the
environment, the model's tier and its team, the highest ``priority`` wins (ties: the most recently
activated); where none matches, the built-in default policy (``rules.DEFAULT_POLICY``) applies.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.db.base import utcnow
from driftguard.errors import ConflictError, ErrorDetail, InvalidError, NotFoundError
from driftguard.governance.orm import Policy, PolicyActivation, PolicyVersion
from driftguard.governance.schemas import (
    AppliedPolicy,
    PolicyCreate,
    PolicyRead,
    PolicyValidation,
    PolicyVersionCreate,
    PolicyVersionRead,
)
from driftguard.identity.principal import Principal
from driftguard.registry.orm import RegisteredModel
from driftguard.rules import (
    DEFAULT_POLICY,
    DEFAULT_POLICY_NAME,
    MonitoringPolicy,
    PolicyDocument,
    PolicyError,
    content_hash,
    monitoring_policy,
    parse_policy,
    tier_of,
)
from driftguard.schemas import Page

DEFAULT_HASH = content_hash(DEFAULT_POLICY)


@dataclass(frozen=True, slots=True)
class InForce:
    """A policy document and where it came from."""

    document: PolicyDocument
    applied: AppliedPolicy
    activated_at_key: float = 0.0


DEFAULT_IN_FORCE = InForce(
    DEFAULT_POLICY,
    AppliedPolicy(
        name=DEFAULT_POLICY_NAME, version=None, version_id=None, content_hash=DEFAULT_HASH
    ),
)


def parse(source: str, *, environments: Collection[str], field: str = "source") -> PolicyDocument:
    """The document, or an invalid-input error whose details point into it (``source.rules.0``)."""
    try:
        return parse_policy(source, environments=frozenset(environments))
    except PolicyError as exc:
        details = [
            ErrorDetail(loc=f"{field}.{path}" if path else field, msg=msg)
            for path, msg in exc.problems
        ]
        raise InvalidError(f"{field}: not a valid policy: {exc}", details=details) from None


def validate(source: str, *, environments: Collection[str]) -> PolicyValidation:
    document = parse(source, environments=environments)
    return PolicyValidation(
        valid=True, content_hash=content_hash(document), document=document.model_dump(mode="json")
    )


def _reads(session: Session, rows: Sequence[Policy]) -> list[PolicyRead]:
    """The policies as read back, with their active version numbers in one query."""
    active: dict[int, int] = {}
    for policy_id, number in session.execute(
        select(PolicyVersion.policy_id, PolicyVersion.number).where(
            PolicyVersion.policy_id.in_([p.id for p in rows]), PolicyVersion.is_active
        )
    ):
        active[policy_id] = number
    return [
        PolicyRead(
            id=policy.id,
            name=policy.name,
            description=policy.description,
            active_version=active.get(policy.id),
            latest_version=policy.next_version_number - 1,
            created_at=policy.created_at,
        )
        for policy in rows
    ]


def create_policy(
    session: Session, *, principal: Principal, data: PolicyCreate, environments: Collection[str]
) -> PolicyVersionRead:
    """A new policy with its first version (inactive until activated)."""
    document = parse(data.source, environments=environments)
    if data.name == DEFAULT_POLICY_NAME or session.scalar(
        select(Policy.id).where(Policy.name == data.name)
    ):
        raise ConflictError(f"a policy named {data.name!r} exists", code="name_taken")
    policy = Policy(
        name=data.name,
        description=data.description,
        next_version_number=1,
        created_by_id=principal.user_id,
    )
    session.add(policy)
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="policy.create",
        object_type="policy",
        object_id=policy.id,
        after={"name": policy.name, "description": policy.description},
    )
    return _add_version(session, principal, policy, data.source, document)


def add_version(
    session: Session,
    *,
    principal: Principal,
    policy_id: int,
    data: PolicyVersionCreate,
    environments: Collection[str],
) -> PolicyVersionRead:
    document = parse(data.source, environments=environments)
    policy = _policy(session, policy_id)
    return _add_version(session, principal, policy, data.source, document)


def _add_version(
    session: Session, principal: Principal, policy: Policy, source: str, document: PolicyDocument
) -> PolicyVersionRead:
    digest = content_hash(document)
    same = session.scalar(
        select(PolicyVersion.number).where(
            PolicyVersion.policy_id == policy.id, PolicyVersion.content_hash == digest
        )
    )
    if same is not None:
        raise ConflictError(
            f"policy {policy.name!r} version {same} has the same content", code="same_content"
        )
    number = (
        session.execute(
            update(Policy)
            .where(Policy.id == policy.id)
            .values(next_version_number=Policy.next_version_number + 1)
            .returning(Policy.next_version_number)
        ).scalar_one()
        - 1
    )
    version = PolicyVersion(
        policy_id=policy.id,
        number=number,
        content_hash=digest,
        source=source,
        document=document.model_dump(mode="json"),
        is_active=False,
        created_by_id=principal.user_id,
    )
    session.add(version)
    session.flush()
    read = PolicyVersionRead.model_validate(version)
    audit.record(
        session,
        actor=principal,
        action="policy.version.create",
        object_type="policy_version",
        object_id=version.id,
        after=read.model_dump(mode="json", exclude={"source"}),
    )
    return read


def _policy(session: Session, policy_id: int) -> Policy:
    policy = session.get(Policy, policy_id)
    if policy is None:
        raise NotFoundError(f"policy {policy_id} not found")
    return policy


def _version(session: Session, policy_id: int, number: int) -> PolicyVersion:
    version = session.scalar(
        select(PolicyVersion).where(
            PolicyVersion.policy_id == policy_id, PolicyVersion.number == number
        )
    )
    if version is None:
        raise NotFoundError(f"policy {policy_id} has no version {number}")
    return version


def activate(
    session: Session, *, principal: Principal, policy_id: int, number: int
) -> PolicyVersionRead:
    """Put one version in force, withdrawing the policy's previously active version."""
    policy = _policy(session, policy_id)
    version = _version(session, policy.id, number)
    if version.is_active:
        raise ConflictError(f"version {number} is already active", code="already_active")
    previous = _withdraw(session, policy.id)
    version.is_active, version.activated_at = True, utcnow()
    session.add(
        PolicyActivation(policy_id=policy.id, version_id=version.id, actor_id=principal.user_id)
    )
    session.flush()
    read = PolicyVersionRead.model_validate(version)
    audit.record(
        session,
        actor=principal,
        action="policy.activate",
        object_type="policy",
        object_id=policy.id,
        before={"active_version": previous},
        after={"active_version": number, "content_hash": version.content_hash},
    )
    return read


def deactivate(session: Session, *, principal: Principal, policy_id: int) -> PolicyRead:
    policy = _policy(session, policy_id)
    previous = _withdraw(session, policy.id)
    if previous is None:
        raise ConflictError(f"policy {policy_id} has no active version", code="not_active")
    session.add(PolicyActivation(policy_id=policy.id, version_id=None, actor_id=principal.user_id))
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="policy.deactivate",
        object_type="policy",
        object_id=policy.id,
        before={"active_version": previous},
        after={"active_version": None},
    )
    return _reads(session, [policy])[0]


def _withdraw(session: Session, policy_id: int) -> int | None:
    current = session.scalar(
        select(PolicyVersion).where(PolicyVersion.policy_id == policy_id, PolicyVersion.is_active)
    )
    if current is None:
        return None
    current.is_active = False
    session.flush()  # the one-active index must see the withdrawal before the activation
    return current.number


def list_policies(session: Session, *, limit: int, offset: int) -> Page[PolicyRead]:
    total = session.scalar(select(func.count()).select_from(Policy)) or 0
    rows = session.scalars(select(Policy).order_by(Policy.name).limit(limit).offset(offset)).all()
    return Page(items=_reads(session, rows), total=total, limit=limit, offset=offset)


def read_policy(session: Session, *, policy_id: int) -> PolicyRead:
    return _reads(session, [_policy(session, policy_id)])[0]


def list_versions(
    session: Session, *, policy_id: int, limit: int, offset: int
) -> Page[PolicyVersionRead]:
    policy = _policy(session, policy_id)
    query = select(PolicyVersion).where(PolicyVersion.policy_id == policy.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(PolicyVersion.number.desc()).limit(limit).offset(offset)
    ).all()
    return Page(
        items=[PolicyVersionRead.model_validate(v) for v in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


def read_version(session: Session, *, policy_id: int, number: int) -> PolicyVersionRead:
    return PolicyVersionRead.model_validate(_version(session, policy_id, number))


_PARSED: dict[str, PolicyDocument] = {}


def _document(digest: str, stored: dict[str, Any]) -> PolicyDocument:
    """Stored documents were validated when written; re-validating on every request is waste."""
    document = _PARSED.get(digest)
    if document is None:
        if len(_PARSED) > 256:
            _PARSED.clear()
        document = _PARSED[digest] = PolicyDocument.model_validate(stored)
    return document


def active_policies(session: Session) -> list[InForce]:
    """Every active stored policy version, highest precedence first."""
    rows = session.execute(
        select(Policy.name, PolicyVersion)
        .join(PolicyVersion, PolicyVersion.policy_id == Policy.id)
        .where(PolicyVersion.is_active)
    ).all()
    in_force = [
        InForce(
            _document(v.content_hash, v.document),
            AppliedPolicy(
                name=name, version=v.number, version_id=v.id, content_hash=v.content_hash
            ),
            v.activated_at.timestamp() if v.activated_at else 0.0,
        )
        for name, v in rows
    ]
    return sorted(in_force, key=lambda p: (p.document.priority, p.activated_at_key), reverse=True)


def select_policy(
    candidates: list[InForce], *, team_id: int, tier: int, environment: str | None
) -> InForce:
    """The first candidate (in precedence order) whose scope matches, else the default."""
    for candidate in candidates:
        if candidate.document.applies_to(environment=environment, tier=tier, team_id=team_id):
            return candidate
    return DEFAULT_IN_FORCE


def policy_for(session: Session, *, model: RegisteredModel, environment: str | None) -> InForce:
    tier = tier_of(model.materiality.value, model.criticality.value)
    return select_policy(
        active_policies(session), team_id=model.team_id, tier=tier, environment=environment
    )


def monitoring_policy_for(session: Session, model: RegisteredModel) -> MonitoringPolicy:
    """The monitoring thresholds in force for a model (whatever the environment)."""
    return monitoring_policy(policy_for(session, model=model, environment=None).document)
