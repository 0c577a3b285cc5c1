"""Runtime configuration: one class, read from ``DRIFTGUARD_*`` environment variables.

Nothing here is built at import time; call :func:`load_settings` where a process starts.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self

from limits import parse_many
from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from driftguard.errors import ErrorDetail, InvalidError
from driftguard.secret_strength import GENERATE_HINT, weakness

MIN_PRODUCTION_SECRET_LENGTH = 32
FERNET_KEY_BYTES = 32
# Worker threads kept for the embedded background loops (scheduler, webhook delivery).
RESERVED_THREADS = 2
DEFAULT_MAX_IN_FLIGHT = 8


# Settings given as comma-separated lists in the environment.
_LIST_SETTINGS = (
    "cors_origins",
    "trusted_proxies",
    "deployment_environments",
    "secrets_key",
    "audit_previous_keys",
)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    # Errors never echo the input: it holds secrets (JWT secret, keys, DSNs).
    model_config = SettingsConfigDict(
        env_prefix="DRIFTGUARD_", extra="ignore", hide_input_in_errors=True
    )

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///driftguard.db"
    redis_url: str | None = None

    # The connection pool (PostgreSQL, and an SQLite file database).
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=40, ge=0)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    # Bounds on the database (db/budget.py). Connecting (the driver's floor is 2 s). One round
    # trip of an ordinary API request: then 503 with Retry-After, also for a database that stops
    # answering without closing its connections. One statement elsewhere (CLI, migrations,
    # workers, background loops, bulk uploads and monitoring runs); 0: no bound.
    db_connect_timeout_seconds: int = Field(default=2, ge=2, le=300)
    db_request_timeout_seconds: float = Field(default=3.0, ge=0.1, le=300)
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)
    db_echo: bool = False
    # Overload protection (api/admission.py). Worker threads run every blocking step of a
    # request; at most max_in_flight requests run at once (unset: as many as the threads and the
    # pool can serve without waiting, see admission_limit), others wait up to
    # admission_wait_seconds in a queue of admission_queue_size (unset: max_in_flight), then get
    # 503 with Retry-After.
    worker_threads: int = Field(default=40, ge=4, le=1000)
    max_in_flight: int | None = Field(default=None, ge=1)
    admission_wait_seconds: float = Field(default=0.25, ge=0, le=30)
    admission_queue_size: int | None = Field(default=None, ge=0)
    admission_retry_after_seconds: int = Field(default=1, ge=1, le=3600)
    # SQLite: how long a writer waits for the file lock (an API request: the request timeout).
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)

    # Unset, each process signs with its own random key: tokens work only against the process
    # that issued them and die with it. Replicas must share a configured secret (production
    # refuses to start without one).
    jwt_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(48)))
    jwt_issuer: str = "driftguard"
    jwt_audience: str = "driftguard-api"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=900)
    refresh_token_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=300)

    # Argon2id cost; the defaults follow RFC 9106's second recommended option.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # JSON batches of predictions, labels or reference rows (10,000 rows of 20 features ≈ 6 MB).
    max_batch_bytes: int = Field(default=32 * 1_048_576, ge=1024)
    # Uploaded files (reference data), streamed to a temporary file, never held whole in memory.
    max_upload_bytes: int = Field(default=1024 * 1_048_576, ge=1024)

    # Embedded scheduler: each server process checks for closed monitoring windows this often.
    scheduler_enabled: bool = True
    scheduler_tick_seconds: float = Field(default=60.0, ge=1.0)
    # Models with the same interval close their windows at the same instant; each model's runs
    # are enqueued a fixed offset after its windows close, spread over this long (at most one
    # interval), so the work arrives over the span instead of as one burst. 0: no spreading.
    scheduler_stagger_seconds: float = Field(default=300.0, ge=0, le=86_400)

    # Prediction storage. On PostgreSQL, raw prediction data is partitioned by time into ranges
    # of this many days (aligned to 2000-01-01 UTC), prepared this many ranges ahead by the
    # maintenance jobs (at start-up, then every maintenance interval). Raw predictions older than
    # the retention (whole UTC days) are purged there; 0 keeps them forever. Reports and
    # per-block counts are always kept.
    prediction_partition_days: int = Field(default=1, ge=1, le=366)
    prediction_partitions_ahead: int = Field(default=7, ge=1, le=366)
    prediction_retention_days: int = Field(default=0, ge=0)
    # Monitoring reports whose window ended more than this many days ago are purged by the
    # maintenance jobs, except each version's newest report of each kind. Unset: kept forever.
    report_retention_days: int | None = Field(default=None, ge=1)

    # Task workers (Celery). Unset, every server process runs scheduled monitoring, webhook
    # delivery and maintenance itself (embedded mode). Set (redis://… or amqp://…), server
    # processes stop doing so: `driftguard scheduler` enqueues that work and `driftguard worker`
    # processes run it.
    broker_url: SecretStr | None = None
    # The queue the scheduler and workers share on the broker: deployments (or test runs) that
    # share one broker keep their tasks apart by giving each its own.
    broker_queue: str = Field(default="driftguard", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # Redis broker: a task taken by a worker that died unacknowledged is handed out again after
    # this long. It must exceed the longest task and the longest retry wait.
    broker_visibility_timeout_seconds: int = Field(default=3600, ge=5)
    # A failing task is retried this many times, waiting backoff * 2**n (capped, jittered), then
    # recorded as a dead letter.
    task_max_retries: int = Field(default=5, ge=0, le=50)
    task_retry_backoff_seconds: int = Field(default=2, ge=1)
    task_retry_backoff_max_seconds: int = Field(default=600, ge=1)
    # Periodic maintenance jobs (worker/maintenance.py) run this often.
    maintenance_interval_seconds: float = Field(default=3600.0, ge=1.0)

    # Where model versions are deployed; policies and deployment requests may name only these.
    deployment_environments: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["staging", "production"], min_length=1
    )
    # Alert webhooks: each server process sends due deliveries every tick (embedded mode).
    webhook_delivery_enabled: bool = True
    webhook_tick_seconds: float = Field(default=2.0, ge=0.05)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    # The wait before retry n is backoff * 2**(n-1), capped.
    webhook_backoff_seconds: float = Field(default=30.0, ge=0)
    webhook_backoff_max_seconds: float = Field(default=6 * 3600.0, ge=0)
    # Targets on loopback, private or link-local addresses are refused unless allowed, so a
    # webhook cannot be aimed at the server itself or its internal network.
    webhook_allow_private_targets: bool = False

    # The evidence pack (GET …/versions/{n}/evidence): how many of the version's newest audit
    # records and monitoring reports of each kind it holds; each section states its total.
    evidence_audit_records: int = Field(default=500, ge=1, le=100_000)
    evidence_reports_per_kind: int = Field(default=1000, ge=1, le=100_000)

    # Addresses or networks of reverse proxies whose X-Forwarded-For is believed.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)

    # Rate limits, in the `limits` notation ("5/minute"); counters live in Redis when configured.
    rate_limit_login: str = "5/minute"
    rate_limit_api: str = "100/minute"
    rate_limit_enabled: bool = True
    # Namespaces the counters when several deployments share one Redis.
    rate_limit_key_prefix: str = Field(default="driftguard", pattern=r"^[\w.:-]{1,64}$")

    # HMAC key that seals every audit record and signs checkpoints; the JWT secret when unset.
    # Neither set (a per-process random JWT secret): records are sealed unkeyed (plain SHA-256).
    audit_key: SecretStr | None = None
    # Keys that sealed older records, comma-separated: they verify, never seal (key rotation).
    audit_previous_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # A directory outside the database where the maintenance jobs write a signed checkpoint of
    # the chain head every round, and where `driftguard audit verify` finds the newest one.
    audit_checkpoint_dir: Path | None = None
    # Fernet keys that encrypt stored secrets (webhook signing keys), comma-separated: the first
    # encrypts, every one decrypts (rotation: put the new key first, run `driftguard secrets
    # rotate`, then drop the old one). Required in production; elsewhere, when unset, a key
    # derived from the JWT secret (HKDF) is used (see encryption.py).
    secrets_key: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_file: str | None = None
    log_file_max_bytes: int = Field(default=10_485_760, ge=1024)
    log_file_backups: int = Field(default=5, ge=1)

    # Interactive API docs (/docs) and the OpenAPI schema (/openapi.json): unset, served outside
    # production and 404 in production; true or false decides everywhere.
    api_docs_enabled: bool | None = None

    # When set, /metrics wants "Authorization: Bearer <token>"; unset: open, but off in production.
    metrics_token: SecretStr | None = None

    # Error reports to Sentry (or a compatible service); unset, nothing is sent anywhere.
    sentry_dsn: SecretStr | None = None
    # Defaults to DRIFTGUARD_ENVIRONMENT.
    sentry_environment: str | None = None
    # Web UI: mark cookies Secure even when the request reached us over plain http (a TLS proxy
    # in front). Over https, and always in production, they are Secure anyway.
    web_cookie_secure: bool = False
    # Web UI sign-in sessions end after this long without a page request, and this long after
    # sign-in however active (the API's tokens have their own lifetimes above).
    web_session_idle_seconds: int = Field(default=30 * 60, ge=60, le=7 * 24 * 3600)
    web_session_max_seconds: int = Field(default=12 * 3600, ge=300, le=30 * 24 * 3600)
    # The executive dashboard is cached this long (Redis when configured, else in memory).
    dashboard_cache_seconds: int = Field(default=60, ge=0, le=3600)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # `driftguard serve` closes a connection idle this long; a proxy in front must close its idle
    # upstream connections sooner, or a request can race the close and fail.
    http_keep_alive_seconds: int = Field(default=5, ge=1, le=3600)
    # Slow clients (api/http_protocol.py, api/slow_clients.py). A request's headers must arrive
    # within http_header_timeout_seconds; its body within http_body_timeout_seconds plus one second
    # per http_body_min_rate_bytes received (so a client sending at least that many bytes a second
    # is never cut off); late ones get 408. One address may hold at most
    # http_max_connections_per_client connections (trusted proxies are not capped).
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    http_body_timeout_seconds: float = Field(default=20.0, gt=0, le=3600)
    http_body_min_rate_bytes: int = Field(default=500, ge=1)
    http_max_connections_per_client: int = Field(default=64, ge=1, le=100_000)

    # Incidents (lifecycle/incidents.py): days from awareness to the report a serious incident
    # owes its market surveillance authority, per EU AI Act Art. 73 category. A deadline is
    # computed and stored when the incident is recorded; changing these moves later ones only.
    incident_deadline_days_death_or_serious_harm_to_health: int = Field(default=10, ge=1, le=366)
    incident_deadline_days_widespread_infringement: int = Field(default=2, ge=1, le=366)
    incident_deadline_days_critical_infrastructure_disruption: int = Field(default=2, ge=1, le=366)
    incident_deadline_days_other_serious: int = Field(default=15, ge=1, le=366)

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in _LIST_SETTINGS:
                value = data.get(key)
                if isinstance(value, str):
                    data[key] = [v.strip() for v in value.split(",") if v.strip()]
        return data

    @field_validator("deployment_environments")
    @classmethod
    def _environment_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not re.fullmatch(r"[a-z0-9_-]{1,32}", name):
                raise ValueError(f"environment names are 1-32 of a-z 0-9 _ -: {name!r}")
        return names

    @field_validator("secrets_key")
    @classmethod
    def _fernet_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        # The value is never echoed: the message names the key's position only.
        for position, key in enumerate(keys, start=1):
            if not is_fernet_key(key.get_secret_value()):
                raise ValueError(
                    f"DRIFTGUARD_SECRETS_KEY: key {position} of {len(keys)} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes; make one with `driftguard secrets new-key`)"
                )
        return keys

    @field_validator(
        "sentry_dsn",
        "sentry_environment",
        "redis_url",
        "broker_url",
        "audit_checkpoint_dir",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # Compose and Kubernetes pass "" for an optional variable left empty.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("rate_limit_login", "rate_limit_api")
    @classmethod
    def _parse_rate(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit like '100/minute': {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _refuse_wildcard_with_credentials(self) -> Self:
        # Credentialed CORS is always on: a wildcard would hand any site the user's session.
        if "*" in self.cors_origins:
            raise ValueError(
                "DRIFTGUARD_CORS_ORIGINS may not contain '*': credentials are allowed, so list "
                "the exact origins"
            )
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        if "jwt_secret" not in self.model_fields_set:
            raise ValueError(
                "DRIFTGUARD_JWT_SECRET must be set to a random value of at least "
                f"{MIN_PRODUCTION_SECRET_LENGTH} characters in production"
            )
        for name, secret, hint in self._production_secrets():
            _refuse_weak_secret(name, secret.get_secret_value(), hint)
        if not self.secrets_key:
            raise ValueError(
                "DRIFTGUARD_SECRETS_KEY must be set in production: it encrypts stored webhook "
                "signing secrets (make one with `driftguard secrets new-key`)"
            )
        return self

    def _production_secrets(self) -> list[tuple[str, SecretStr, str]]:
        # Every secret production relies on that is set, with how to make a good one.
        found = [("DRIFTGUARD_JWT_SECRET", self.jwt_secret, GENERATE_HINT)]
        if self.audit_key is not None:
            found.append(("DRIFTGUARD_AUDIT_KEY", self.audit_key, GENERATE_HINT))
        if self.metrics_token is not None:
            found.append(("DRIFTGUARD_METRICS_TOKEN", self.metrics_token, GENERATE_HINT))
        for position, key in enumerate(self.secrets_key, start=1):
            name = f"DRIFTGUARD_SECRETS_KEY (key {position} of {len(self.secrets_key)})"
            found.append((name, key, "driftguard secrets new-key"))
        return found

    @model_validator(mode="after")
    def _checkpoints_need_a_lasting_key(self) -> Self:
        # Signed with a per-process random key, a checkpoint could never be checked again.
        if self.audit_checkpoint_dir is not None and not self.audit_chain_keys():
            raise ValueError(
                "DRIFTGUARD_AUDIT_CHECKPOINT_DIR needs DRIFTGUARD_AUDIT_KEY (or "
                "DRIFTGUARD_JWT_SECRET) set: checkpoints are signed with it"
            )
        return self

    @model_validator(mode="after")
    def _admission_fits_the_pools(self) -> Self:
        ceiling = self.admission_ceiling
        if self.max_in_flight is not None and self.max_in_flight > ceiling:
            raise ValueError(
                f"DRIFTGUARD_MAX_IN_FLIGHT may be at most {ceiling}: worker threads less "
                f"{RESERVED_THREADS} reserved, and half of DB_POOL_SIZE + DB_MAX_OVERFLOW (a "
                "request can hold two connections)"
            )
        return self

    @property
    def admission_ceiling(self) -> int:
        """The most requests in flight that never wait for a worker thread or a connection."""
        pool = self.db_pool_size + self.db_max_overflow
        return max(1, min(self.worker_threads - RESERVED_THREADS, pool // 2))

    @property
    def admission_limit(self) -> int:
        """Requests admitted at once: ``max_in_flight`` if set, else a default capped by what the
        threads and pool can serve."""
        return self.max_in_flight or min(DEFAULT_MAX_IN_FLIGHT, self.admission_ceiling)

    @property
    def admission_queue(self) -> int:
        """Requests that may wait for admission: ``admission_queue_size`` if set, else as many as
        are admitted."""
        size = self.admission_queue_size
        return self.admission_limit if size is None else size

    @property
    def scheduler_stagger(self) -> timedelta:
        """The span over which models' scheduled runs are spread, as a timedelta."""
        return timedelta(seconds=self.scheduler_stagger_seconds)

    @property
    def embedded_jobs(self) -> bool:
        """No broker: server processes run the scheduled and periodic jobs themselves."""
        return self.broker_url is None

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite."""
        return self.database_url.startswith("sqlite")

    def audit_signing_key(self) -> bytes:
        """The checkpoint key: it must outlive the process, so a per-process random JWT secret
        will not do."""
        if self.audit_key is None and "jwt_secret" not in self.model_fields_set:
            raise InvalidError(
                "set DRIFTGUARD_AUDIT_KEY (or DRIFTGUARD_JWT_SECRET) to sign audit checkpoints",
                code="no_audit_key",
                details=[ErrorDetail(loc="DRIFTGUARD_AUDIT_KEY", msg="is not set")],
            )
        return (self.audit_key or self.jwt_secret).get_secret_value().encode()

    def audit_chain_keys(self) -> list[bytes]:
        """The audit keys, the sealing one first, then the retired ones; empty when no key
        outlives the process (records are then sealed unkeyed)."""
        if self.audit_key is None and "jwt_secret" not in self.model_fields_set:
            return []
        previous = [key.get_secret_value().encode() for key in self.audit_previous_keys]
        return [self.audit_signing_key(), *previous]

    def incident_deadline_days(self) -> dict[str, int]:
        """Days to report a serious incident, per Art. 73 category."""
        return {
            "death_or_serious_harm_to_health": (
                self.incident_deadline_days_death_or_serious_harm_to_health
            ),
            "widespread_infringement": self.incident_deadline_days_widespread_infringement,
            "critical_infrastructure_disruption": (
                self.incident_deadline_days_critical_infrastructure_disruption
            ),
            "other_serious": self.incident_deadline_days_other_serious,
        }


def _refuse_weak_secret(name: str, value: str, hint: str) -> None:
    # The message names the setting and the reason, never the value.
    problem = (
        f"it is shorter than {MIN_PRODUCTION_SECRET_LENGTH} characters"
        if len(value) < MIN_PRODUCTION_SECRET_LENGTH
        else weakness(value)
    )
    if problem is not None:
        raise ValueError(
            f"{name} is too weak for production: {problem}. Use a random value of at least "
            f"{MIN_PRODUCTION_SECRET_LENGTH} characters, for example from `{hint}`"
        )


def is_fernet_key(value: str) -> bool:
    """32 bytes in url-safe base64, the form Fernet takes."""
    try:
        return len(base64.urlsafe_b64decode(value.strip().encode())) == FERNET_KEY_BYTES
    except (binascii.Error, ValueError):
        return False


def load_settings(**overrides: object) -> Settings:
    """The settings from the environment (``DRIFTGUARD_*``), with ``overrides`` on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
