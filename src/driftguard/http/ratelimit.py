"""Request rate limits on the `limits` library.

Counters live in Redis when ``DRIFTGUARD_REDIS_URL`` is set, so every replica shares them, and in
process memory otherwise. If Redis fails, requests are not failed: this process falls back to its
own in-memory counters for a short while (logged and counted), then tries Redis again.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import FixedWindowRateLimiter

from driftguard.errors import RateLimitedError
from driftguard.settings import Settings

logger = logging.getLogger("driftguard.ratelimit")

REDIS_RETRY_SECONDS = 30.0
REDIS_TIMEOUT_SECONDS = 0.5


class RateLimiter:
    def __init__(
        self,
        settings: Settings,
        *,
        on_fallback: Callable[[], None] | None = None,
        on_reject: Callable[[str], None] | None = None,
    ) -> None:
        self.enabled = settings.rate_limit_enabled
        self.login = parse(settings.rate_limit_login)
        self.api = parse(settings.rate_limit_api)
        self._prefix = settings.rate_limit_key_prefix
        self._memory = FixedWindowRateLimiter(MemoryStorage())
        self._shared: FixedWindowRateLimiter | None = None
        self._redis: RedisStorage | None = None
        if settings.redis_url:
            self._redis = RedisStorage(
                settings.redis_url,
                key_prefix=self._prefix,
                wrap_exceptions=True,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self._shared = FixedWindowRateLimiter(self._redis)
        self._redis_down_until = 0.0
        self._on_fallback = on_fallback
        self._on_reject = on_reject
        self.fallbacks = 0

    def hit(self, item: RateLimitItem, *identifiers: str) -> None:
        """Count one request against ``item`` for ``identifiers``; 429 when it is over."""
        if not self.enabled:
            return
        limiter = self._limiter()
        try:
            allowed = limiter.hit(item, self._prefix, *identifiers)
            if not allowed:
                reset, _ = limiter.get_window_stats(item, self._prefix, *identifiers)
        except StorageError:
            self._fall_back()
            limiter = self._memory
            allowed = limiter.hit(item, self._prefix, *identifiers)
            if not allowed:
                reset, _ = limiter.get_window_stats(item, self._prefix, *identifiers)
        if not allowed:
            if self._on_reject is not None:
                self._on_reject(identifiers[0] if identifiers else "")
            retry_after = max(1, math.ceil(reset - time.time()))
            raise RateLimitedError(
                f"too many requests; retry in {retry_after} seconds",
                retry_after_seconds=retry_after,
            )

    def _limiter(self) -> FixedWindowRateLimiter:
        if self._shared is not None and time.monotonic() >= self._redis_down_until:
            return self._shared
        return self._memory

    def _fall_back(self) -> None:
        self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
        self.fallbacks += 1
        if self._on_fallback is not None:
            self._on_fallback()
        logger.warning(
            "rate-limit storage (Redis) unavailable; using this process's own counters for %ss",
            REDIS_RETRY_SECONDS,
        )

    def close(self) -> None:
        """Close the Redis connection pool, if the limiter counts in Redis."""
        if self._redis is not None:
            self._redis.storage.close()
