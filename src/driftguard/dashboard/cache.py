"""A small cache for dashboard documents: Redis when configured (shared by every replica), process
memory otherwise.

Keys carry a generation number; a write that changes what the dashboard shows bumps it
(``invalidation.py``), so every cached document is stale at once without being looked up. A Redis
outage never fails a request: the document is computed instead, and Redis is tried again after a
short pause.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis
from redis.exceptions import RedisError

logger = logging.getLogger("driftguard.dashboard")

REDIS_RETRY_SECONDS = 30.0
REDIS_TIMEOUT_SECONDS = 0.5
MAX_MEMORY_ENTRIES = 1024


class Store(Protocol):
    """Where cached documents live: strings under keys, with a time to live and a generation."""

    def generation(self) -> int:
        """The current generation, which every key carries."""
        ...

    def get(self, key: str) -> str | None:
        """The live value under ``key``, or None."""
        ...

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        """Keep ``value`` under ``key`` for ``ttl_seconds``."""
        ...

    def bump(self) -> None:
        """Start a new generation: every document cached so far is stale."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class MemoryStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[str, tuple[float, str]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self._clock = clock

    def generation(self) -> int:
        """The current generation (part of every key)."""
        return self._generation

    def get(self, key: str) -> str | None:
        """The live entry under ``key``, or None when absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= self._clock():
                return None
            return entry[1]

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        """Keep ``value`` for ``ttl_seconds``; at the entry cap, expired entries go first, then
        all of them."""
        with self._lock:
            if len(self._entries) >= MAX_MEMORY_ENTRIES:
                now = self._clock()
                self._entries = {k: e for k, e in self._entries.items() if e[0] > now}
                if len(self._entries) >= MAX_MEMORY_ENTRIES:
                    self._entries.clear()
            self._entries[key] = (self._clock() + ttl_seconds, value)

    def bump(self) -> None:
        """Start a new generation and drop every entry."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def close(self) -> None:
        """Nothing to release."""
        return None


class RedisStore:
    def __init__(self, url: str, *, prefix: str) -> None:
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            decode_responses=True,
        )
        self._generation_key = f"{prefix}:generation"

    def generation(self) -> int:
        """The shared generation counter (0 before the first bump)."""
        value = self._client.get(self._generation_key)
        return int(str(value)) if value is not None else 0

    def get(self, key: str) -> str | None:
        """The value under ``key``, or None (Redis expires entries itself)."""
        value = self._client.get(key)
        return None if value is None else str(value)

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        """Store ``value`` with Redis expiry ``ttl_seconds``."""
        self._client.set(key, value, ex=ttl_seconds)

    def bump(self) -> None:
        """Increment the shared generation: every replica's cached documents are stale at once."""
        self._client.incr(self._generation_key)

    def close(self) -> None:
        """Close the Redis connection pool."""
        self._client.close()


class DashboardCache:
    def __init__(
        self,
        store: Store,
        *,
        ttl_seconds: int,
        prefix: str,
        on_fallback: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix
        self._down_until = 0.0
        self._on_fallback = on_fallback
        self.hits = 0
        self.misses = 0
        self.fallbacks = 0

    def fetch(self, name: str, build: Callable[[], str]) -> str:
        """The cached document ``name``, or ``build()`` (stored for next time)."""
        if self.ttl_seconds == 0 or time.monotonic() < self._down_until:
            return build()
        try:
            key = f"{self.prefix}:g{self.store.generation()}:{name}"
            cached = self.store.get(key)
        except (RedisError, OSError):
            self._fall_back()
            return build()
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        value = build()
        try:
            self.store.put(key, value, self.ttl_seconds)
        except (RedisError, OSError):
            self._fall_back()
        return value

    def invalidate(self) -> None:
        """Make every cached document stale (a write changed what they show)."""
        try:
            self.store.bump()
        except (RedisError, OSError):
            self._fall_back()

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()

    def _fall_back(self) -> None:
        self._down_until = time.monotonic() + REDIS_RETRY_SECONDS
        self.fallbacks += 1
        if self._on_fallback is not None:
            self._on_fallback()
        logger.warning(
            "dashboard cache (Redis) unavailable; computing without it for %ss",
            REDIS_RETRY_SECONDS,
        )


def build_cache(
    *,
    redis_url: str | None,
    ttl_seconds: int,
    prefix: str,
    on_fallback: Callable[[], None] | None = None,
) -> DashboardCache:
    """The dashboard cache: Redis when ``redis_url`` is set, else this process's memory."""
    store: Store = (
        RedisStore(redis_url, prefix=f"{prefix}:dashboard") if redis_url else MemoryStore()
    )
    return DashboardCache(
        store, ttl_seconds=ttl_seconds, prefix=f"{prefix}:dashboard", on_fallback=on_fallback
    )
