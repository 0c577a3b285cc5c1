from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints

from driftguard.identity.permissions import Role
from driftguard.schemas import CreateSchema, Id, LongText, Name, ReadSchema

# Length is checked by the password policy so that the error names the rule, not a regex.
Password = Annotated[str, StringConstraints(max_length=1024)]


class LoginRequest(CreateSchema):
    email: Annotated[str, StringConstraints(max_length=320, pattern=r"^[^\x00-\x1f\x7f]*$")]
    password: Password


class RefreshRequest(CreateSchema):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class TokenPair(ReadSchema):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class TeamCreate(CreateSchema):
    name: Name
    description: LongText = ""


class TeamRead(ReadSchema):
    id: int
    name: str
    description: str
    created_at: datetime


class UserCreate(CreateSchema):
    email: EmailStr
    display_name: Name
    password: Password
    platform_role: Role | None = Field(
        default=None, description="admin or auditor: a role over every team"
    )


class UserRead(ReadSchema):
    id: int
    email: str
    display_name: str
    platform_role: Role | None
    is_active: bool
    created_at: datetime


class MembershipCreate(CreateSchema):
    user_id: Id
    role: Role


class MembershipRead(ReadSchema):
    team_id: int
    user_id: int
    role: Role
    created_at: datetime


class Me(ReadSchema):
    user: UserRead
    memberships: list[MembershipRead]


class ApiKeyCreate(CreateSchema):
    name: Name
    role: Role = Role.ML_ENGINEER


class ApiKeyRead(ReadSchema):
    id: int
    team_id: int
    name: str
    prefix: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret; shown once, never stored in clear")
