from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from driftguard.schemas import CreateSchema, Name, ReadSchema, ShortText

# The document travels as text (YAML or JSON) so that what was submitted is kept verbatim.
PolicySource = Annotated[
    str, Field(min_length=1, max_length=256 * 1024, description="the policy, as YAML or JSON")
]


class PolicyCreate(CreateSchema):
    name: Name
    description: ShortText = ""
    source: PolicySource


class PolicyVersionCreate(CreateSchema):
    source: PolicySource


class PolicyValidate(CreateSchema):
    source: PolicySource


class PolicyValidation(ReadSchema):
    valid: bool
    content_hash: str
    document: dict[str, Any]


class DefaultPolicyRead(ReadSchema):
    name: str
    source: str
    content_hash: str
    document: dict[str, Any]


class PolicyVersionRead(ReadSchema):
    id: int
    policy_id: int
    number: int
    content_hash: str
    source: str
    document: dict[str, Any]
    is_active: bool
    activated_at: datetime | None
    created_by_id: int | None
    created_at: datetime


class PolicyRead(ReadSchema):
    id: int
    name: str
    description: str
    active_version: int | None
    latest_version: int
    created_at: datetime


class AppliedPolicy(ReadSchema):
    """The policy in force for a decision: a stored version, or the built-in default."""

    name: str
    version: int | None
    version_id: int | None
    content_hash: str
