"""Deny by default: every route states what its caller needs, with one mechanism.

:func:`permission_guard` is the guard of both entry points; each binds it to its own way of
knowing the caller (``api.deps.require``: a token or API key; ``web.security.page_permission``:
a browser session). :func:`public` marks the few routes that need no credentials, and
:func:`route_guard` reads back what a dependency declares, so the app refuses to start with a
route that declares nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from fastapi import Depends

from driftguard.errors import ForbiddenError
from driftguard.identity.permissions import Permission


class Caller(Protocol):
    """Whoever makes a request, as far as a guard is concerned."""

    def can(self, permission: Permission) -> bool:
        """Whether the caller holds ``permission`` in at least one of its scopes."""
        ...


def permission_guard(permission: Permission, *, identity: Callable[..., Caller]) -> Any:
    """``Depends`` marker: the caller that ``identity`` resolves must hold ``permission`` in at
    least one scope; the dependency's value is that caller.

    Object-level checks (which team) happen in the service, against the object's team.
    """

    async def check(caller: Caller = Depends(identity)) -> Caller:
        if not caller.can(permission):
            raise ForbiddenError(f"your role does not allow {permission.value}")
        return caller

    check.required_permission = permission  # type: ignore[attr-defined]
    return Depends(check)


async def _public() -> None:
    return None


_public.is_public = True  # type: ignore[attr-defined]


def public() -> Any:
    """``Depends`` marker for the few routes that need no credentials (see PUBLIC_ROUTES)."""
    return Depends(_public)


def route_guard(call: Callable[..., Any]) -> str | None:
    """What a dependency callable declares: a permission value, ``"public"``, a named guard of
    its own (``"metrics-token"``), or nothing."""
    permission = getattr(call, "required_permission", None)
    if permission is not None:
        return str(permission.value)
    guard: str | None = getattr(call, "guard_name", None)
    if guard is not None:
        return guard
    return "public" if getattr(call, "is_public", False) else None
