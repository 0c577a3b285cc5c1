from __future__ import annotations

import os

from driftguard.settings import Settings

POSTGRES_URL = os.environ.get("DRIFTGUARD_TEST_POSTGRES_URL")
# Random-looking, as production requires (tests also run in production mode).
TEST_SECRET = "kP8-cG7_TuHTNTbm-JBkywaLnylBqUN60alm3Dz1-n_cyA8z2iuJ7IPOXmqgpIUk"


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "jwt_secret": TEST_SECRET,
        # Cheap Argon2 parameters: the tests check behaviour, not hashing cost.
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 1024,
        "argon2_parallelism": 1,
        # Tests run scheduled monitoring by calling it, not on a background timer.
        "scheduler_enabled": False,
        # Likewise webhook delivery: tests call deliver_due and send only to loopback receivers.
        "webhook_delivery_enabled": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


REDIS_URL = os.environ.get("DRIFTGUARD_TEST_REDIS_URL")
# RabbitMQ for the Celery broker tests (guest/guest on loopback), when .ci/run found one.
AMQP_URL = os.environ.get("DRIFTGUARD_TEST_AMQP_URL")
