from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from driftguard.schemas import ReadSchema


class Actor(Protocol):
    """Who acts: a user, a team API key, or neither (the system, e.g. a CLI command)."""

    @property
    def user_id(self) -> int | None:
        """The acting user, or None (an API key or the system)."""
        ...

    @property
    def api_key_id(self) -> int | None:
        """The acting API key, or None."""
        ...


@dataclass(frozen=True, slots=True)
class AuditActor:
    user_id: int | None = None
    api_key_id: int | None = None


SYSTEM = AuditActor()


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the API knows about one call once its response is known."""

    method: str
    route: str
    status: int
    latency_ms: float
    client_addr: str | None
    request_id: str | None
    actor: Actor


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor_user_id: int | None = None
    actor_api_key_id: int | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditRecordRead(ReadSchema):
    seq: int
    recorded_at: datetime
    kind: str
    action: str
    actor_user_id: int | None
    actor_api_key_id: int | None
    object_type: str | None
    object_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    method: str | None
    route: str | None
    status: int | None
    latency_ms: float | None
    client_addr: str | None
    request_id: str | None
    prev_hash: str
    hash: str
    key_id: str | None


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of walking the chain. ``first_bad_seq`` is set when ``ok`` is false."""

    ok: bool
    checked: int
    first_seq: int | None
    head_seq: int | None
    head_hash: str | None
    first_bad_seq: int | None = None
    reason: str = ""
    unkeyed: int = 0  # records from before the chain was keyed (plain SHA-256)
    keyed_from: int | None = None  # the first keyed record's seq


@dataclass(frozen=True, slots=True)
class PurgeHold:
    """Records a purge keeps: from ``keep_from_seq`` on (the chain is cut as a prefix only, so
    keeping one record keeps every later one). ``reason`` says why, in the purge's record."""

    keep_from_seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class PurgeResult:
    deleted: int
    through_seq: int | None
    # Set when a hold stopped the purge short of ``before``: the first record it kept, and why.
    held_from_seq: int | None = None
    held_reason: str | None = None
