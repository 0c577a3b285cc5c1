"""The one error tree of DriftGuard.

Services raise these; entry points translate the ``kind`` (never an HTTP status) into their own
vocabulary: the API maps kinds to statuses in ``api/errors.py``, the CLI to exit codes.

    DriftGuardError
    ├── NotFoundError        the object does not exist *or the caller may not see it*
    ├── ConflictError        the request clashes with the current state (duplicate name, ...)
    ├── StaleError           the caller's precondition (``If-Match``) names an outdated state
    ├── InvalidError         the input is well-formed but not acceptable
    ├── UnauthenticatedError no or bad credentials
    ├── ForbiddenError       authenticated, but not allowed
    ├── TooLargeError        the payload exceeds a configured limit
    ├── RateLimitedError     too many requests; retry after ``retry_after_seconds``
    └── UnavailableError     a dependency (database, ...) is down; retry later
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ErrorKind(StrEnum):
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    STALE = "stale"
    INVALID = "invalid"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One problem with the input: where it is (a dotted path) and what is wrong."""

    loc: str
    msg: str


@dataclass(eq=False)
class DriftGuardError(Exception):
    message: str
    code: str = "error"
    details: list[ErrorDetail] = field(default_factory=list)
    # A refused request that records a security event (e.g. a revoked session) keeps its writes.
    keep_changes: bool = field(default=False, kw_only=True)
    kind: ErrorKind = field(default=ErrorKind.INVALID, init=False)

    def __str__(self) -> str:
        return self.message


@dataclass(eq=False)
class NotFoundError(DriftGuardError):
    code: str = "not_found"
    kind: ErrorKind = field(default=ErrorKind.NOT_FOUND, init=False)


@dataclass(eq=False)
class ConflictError(DriftGuardError):
    code: str = "conflict"
    kind: ErrorKind = field(default=ErrorKind.CONFLICT, init=False)


@dataclass(eq=False)
class StaleError(DriftGuardError):
    code: str = "precondition_failed"
    kind: ErrorKind = field(default=ErrorKind.STALE, init=False)


@dataclass(eq=False)
class InvalidError(DriftGuardError):
    code: str = "invalid"
    kind: ErrorKind = field(default=ErrorKind.INVALID, init=False)


@dataclass(eq=False)
class UnauthenticatedError(DriftGuardError):
    code: str = "unauthenticated"
    kind: ErrorKind = field(default=ErrorKind.UNAUTHENTICATED, init=False)


@dataclass(eq=False)
class ForbiddenError(DriftGuardError):
    code: str = "forbidden"
    kind: ErrorKind = field(default=ErrorKind.FORBIDDEN, init=False)


@dataclass(eq=False)
class TooLargeError(DriftGuardError):
    code: str = "too_large"
    kind: ErrorKind = field(default=ErrorKind.TOO_LARGE, init=False)


@dataclass(eq=False)
class UnavailableError(DriftGuardError):
    code: str = "unavailable"
    kind: ErrorKind = field(default=ErrorKind.UNAVAILABLE, init=False)


@dataclass(eq=False)
class RateLimitedError(DriftGuardError):
    code: str = "rate_limited"
    retry_after_seconds: int = field(default=60, kw_only=True)
    kind: ErrorKind = field(default=ErrorKind.RATE_LIMITED, init=False)
