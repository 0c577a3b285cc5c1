"""Governance policies: validate, version, activate. Versions are immutable."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from driftguard.api.deps import require
from driftguard.governance import policies as service
from driftguard.governance.schemas import (
    DefaultPolicyRead,
    PolicyCreate,
    PolicyRead,
    PolicyValidate,
    PolicyValidation,
    PolicyVersionCreate,
    PolicyVersionRead,
)
from driftguard.http.deps import DbSession, SettingsDep
from driftguard.http.params import LimitQuery, ObjectId, OffsetQuery, VersionNumber
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.rules import (
    DEFAULT_POLICY,
    DEFAULT_POLICY_NAME,
    DEFAULT_POLICY_YAML,
    FACTS,
    policy_json_schema,
)
from driftguard.schemas import Page

router = APIRouter(prefix="/policies", tags=["policies"])
Reader = Annotated[Principal, require(Permission.POLICIES_READ)]
Writer = Annotated[Principal, require(Permission.POLICIES_WRITE)]
PolicyId = ObjectId


@router.get("/schema")
def get_schema(_: Reader) -> dict[str, Any]:
    """The JSON Schema of a policy document, with the catalogue of facts rules may name."""
    schema = policy_json_schema()
    schema["x-facts"] = {
        name: {"per_subject": spec.per_subject, "description": spec.description}
        | ({} if spec.codes is None else {"codes": dict(spec.codes)})
        for name, spec in FACTS.items()
    }
    return schema


@router.get("/default")
def get_default(_: Reader) -> DefaultPolicyRead:
    """The built-in policy, in force wherever no active stored policy applies."""
    return DefaultPolicyRead(
        name=DEFAULT_POLICY_NAME,
        source=DEFAULT_POLICY_YAML,
        content_hash=service.DEFAULT_HASH,
        document=DEFAULT_POLICY.model_dump(mode="json"),
    )


@router.post("/validate")
def validate(body: PolicyValidate, settings: SettingsDep, _: Reader) -> PolicyValidation:
    """Check a draft: 200 with its content hash, or 422 with the path of every problem."""
    return service.validate(body.source, environments=settings.deployment_environments)


@router.get("")
def list_policies(
    session: DbSession, _: Reader, limit: LimitQuery = 50, offset: OffsetQuery = 0
) -> Page[PolicyRead]:
    """Every stored policy, by name, with its active version if any."""
    return service.list_policies(session, limit=limit, offset=offset)


@router.post("", status_code=201)
def create_policy(
    body: PolicyCreate, session: DbSession, settings: SettingsDep, principal: Writer
) -> PolicyVersionRead:
    """A new policy and its version 1 (inactive until activated)."""
    return service.create_policy(
        session, principal=principal, data=body, environments=settings.deployment_environments
    )


@router.get("/{policy_id}")
def read_policy(policy_id: PolicyId, session: DbSession, _: Reader) -> PolicyRead:
    """One policy, with its active version if any."""
    return service.read_policy(session, policy_id=policy_id)


@router.get("/{policy_id}/versions")
def list_versions(
    policy_id: PolicyId,
    session: DbSession,
    _: Reader,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[PolicyVersionRead]:
    """The policy's versions, each immutable and content-hashed."""
    return service.list_versions(session, policy_id=policy_id, limit=limit, offset=offset)


@router.post("/{policy_id}/versions", status_code=201)
def add_version(
    policy_id: PolicyId,
    body: PolicyVersionCreate,
    session: DbSession,
    settings: SettingsDep,
    principal: Writer,
) -> PolicyVersionRead:
    """A new version of the policy, parsed and checked (inactive until activated)."""
    return service.add_version(
        session,
        principal=principal,
        policy_id=policy_id,
        data=body,
        environments=settings.deployment_environments,
    )


@router.get("/{policy_id}/versions/{number}")
def read_version(
    policy_id: PolicyId, number: VersionNumber, session: DbSession, _: Reader
) -> PolicyVersionRead:
    """One version of the policy: its source, parsed document and content hash."""
    return service.read_version(session, policy_id=policy_id, number=number)


@router.post("/{policy_id}/versions/{number}/activate")
def activate(
    policy_id: PolicyId, number: VersionNumber, session: DbSession, principal: Writer
) -> PolicyVersionRead:
    """Put this version in force, withdrawing the policy's previously active version. 409 if it is
    already active."""
    return service.activate(session, principal=principal, policy_id=policy_id, number=number)


@router.post("/{policy_id}/deactivate")
def deactivate(policy_id: PolicyId, session: DbSession, principal: Writer) -> PolicyRead:
    """Withdraw the policy's active version, so no version of it is in force. 409 if none is."""
    return service.deactivate(session, principal=principal, policy_id=policy_id)
