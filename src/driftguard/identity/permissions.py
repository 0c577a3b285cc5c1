"""Roles and the permissions they grant. The one table that says who may do what."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    ML_ENGINEER = "ml_engineer"
    APPROVER = "approver"
    AUDITOR = "auditor"
    VALIDATOR = "validator"
    VIEWER = "viewer"


# Platform roles span every team; team roles apply inside the team of a membership or API key.
PLATFORM_ROLES = frozenset({Role.ADMIN, Role.AUDITOR})
TEAM_ROLES = frozenset({Role.ML_ENGINEER, Role.APPROVER, Role.VALIDATOR, Role.VIEWER})


class Permission(StrEnum):
    SELF_READ = "self:read"
    TEAMS_READ = "teams:read"
    TEAMS_WRITE = "teams:write"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    API_KEYS_MANAGE = "api_keys:manage"
    MODELS_READ = "models:read"
    MODELS_WRITE = "models:write"
    MODELS_PROMOTE = "models:promote"
    PREDICTIONS_WRITE = "predictions:write"
    MONITORING_RUN = "monitoring:run"
    ALERTS_MANAGE = "alerts:manage"
    WEBHOOKS_MANAGE = "webhooks:manage"
    AUDIT_READ = "audit:read"
    POLICIES_READ = "policies:read"
    POLICIES_WRITE = "policies:write"
    SIMULATIONS_RUN = "simulations:run"
    DEPLOYMENTS_REQUEST = "deployments:request"
    DEPLOYMENTS_APPROVE = "deployments:approve"
    DEPLOYMENTS_DEPLOY = "deployments:deploy"
    DEAD_LETTERS_READ = "dead_letters:read"
    # The model-risk lifecycle (lifecycle/): the inventory record, independent validation and its
    # findings, periodic review, human oversight and incidents.
    CARDS_WRITE = "cards:write"
    VALIDATIONS_WRITE = "validations:write"
    FINDINGS_WRITE = "findings:write"
    FINDINGS_REMEDIATE = "findings:remediate"
    REVIEWS_ATTEST = "reviews:attest"
    DEPLOYMENTS_SUSPEND = "deployments:suspend"
    OVERRIDES_WRITE = "overrides:write"
    INCIDENTS_WRITE = "incidents:write"
    # An exception to the EU AI Act retention floor (lifecycle/retention.py) shortens what a
    # high-risk model's logs are kept: a platform decision, so admins only (no team role has it).
    RETENTION_EXCEPTIONS_WRITE = "retention_exceptions:write"


_READ = frozenset(
    {
        Permission.SELF_READ,
        Permission.TEAMS_READ,
        Permission.MODELS_READ,
        Permission.POLICIES_READ,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.AUDITOR: _READ
    | {
        Permission.USERS_READ,
        Permission.AUDIT_READ,
        Permission.SIMULATIONS_RUN,
        Permission.DEAD_LETTERS_READ,
    },
    Role.ML_ENGINEER: _READ
    | {
        Permission.MODELS_WRITE,
        Permission.API_KEYS_MANAGE,
        Permission.PREDICTIONS_WRITE,
        Permission.MONITORING_RUN,
        Permission.ALERTS_MANAGE,
        Permission.SIMULATIONS_RUN,
        Permission.DEPLOYMENTS_REQUEST,
        Permission.DEPLOYMENTS_DEPLOY,
        Permission.WEBHOOKS_MANAGE,
        Permission.CARDS_WRITE,
        Permission.FINDINGS_REMEDIATE,
        Permission.REVIEWS_ATTEST,
        Permission.OVERRIDES_WRITE,
        Permission.INCIDENTS_WRITE,
    },
    Role.APPROVER: _READ
    | {
        Permission.ALERTS_MANAGE,
        Permission.SIMULATIONS_RUN,
        Permission.DEPLOYMENTS_APPROVE,
        Permission.DEPLOYMENTS_SUSPEND,
        Permission.INCIDENTS_WRITE,
    },
    # Independent validation: a validator challenges models, never builds or ships them (no
    # model, prediction or deployment-request permission), so effective challenge holds by role
    # as well as per version (whoever created a version or requested its deployment cannot
    # validate it, checked in lifecycle/).
    Role.VALIDATOR: _READ
    | {
        Permission.VALIDATIONS_WRITE,
        Permission.FINDINGS_WRITE,
        Permission.REVIEWS_ATTEST,
        Permission.INCIDENTS_WRITE,
        Permission.SIMULATIONS_RUN,
    },
    Role.VIEWER: _READ,
}
