from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from driftguard.errors import ForbiddenError
from driftguard.identity.permissions import ROLE_PERMISSIONS, Permission, Role


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and in which teams they hold which role.

    Either a user (``user_id``) or a machine holding a team API key (``api_key_id``).
    """

    user_id: int | None
    platform_role: Role | None = None
    team_roles: Mapping[int, Role] = field(default_factory=dict)
    api_key_id: int | None = None

    def can(self, permission: Permission) -> bool:
        """True if any of the caller's roles, in any scope, grants ``permission``."""
        if self.platform_role is not None and permission in ROLE_PERMISSIONS[self.platform_role]:
            return True
        return any(permission in ROLE_PERMISSIONS[r] for r in self.team_roles.values())

    def can_in_team(self, permission: Permission, team_id: int) -> bool:
        """Whether ``permission`` holds in ``team_id``: a platform role granting it, or the role
        there."""
        if self.platform_role is not None and permission in ROLE_PERMISSIONS[self.platform_role]:
            return True
        role = self.team_roles.get(team_id)
        return role is not None and permission in ROLE_PERMISSIONS[role]

    def teams_with(self, permission: Permission) -> frozenset[int] | None:
        """The team ids where ``permission`` holds; ``None`` means every team."""
        if self.platform_role is not None and permission in ROLE_PERMISSIONS[self.platform_role]:
            return None
        return frozenset(t for t, r in self.team_roles.items() if permission in ROLE_PERMISSIONS[r])

    def require_in_team(self, permission: Permission, team_id: int) -> None:
        """Raise ``ForbiddenError`` unless ``permission`` holds in ``team_id``."""
        if not self.can_in_team(permission, team_id):
            raise ForbiddenError(f"your role in this team does not allow {permission.value}")
