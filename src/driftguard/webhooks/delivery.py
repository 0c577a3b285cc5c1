"""Sending queued deliveries: signed (Standard Webhooks), retried with exponential backoff.

:func:`deliver_due` is a plain function over a session factory and an HTTP client, so the same call
serves the embedded loop and a task-queue worker (both through :func:`deliver_all_due`). A claim
moves a delivery's ``next_attempt_at`` past the longest a send can take, so a process that dies
mid-send leaves the delivery to be retried, never lost; receivers dedupe retries by
``webhook-id``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx2
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from driftguard.db.base import utcnow
from driftguard.db.session import unit_of_work
from driftguard.encryption import SecretCipher, SecretsKeyError, secret_cipher
from driftguard.settings import Settings
from driftguard.webhooks import repository
from driftguard.webhooks.orm import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from driftguard.webhooks.pinning import PinnedBackend, PinnedTransport
from driftguard.webhooks.targets import TargetRefusedError

logger = logging.getLogger("driftguard.webhooks")
CLAIM_BATCH = 50
USER_AGENT = "DriftGuard-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Job:
    delivery_id: int
    endpoint_id: int
    message_id: str
    url: str
    # The signing secret, decrypted; None when no configured key opens it (``problem`` says
    # why, and the try is recorded as failed without anything sent).
    secret: str | None
    body: str
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        """Whether the receiver answered 2xx (the delivery is settled)."""
        return self.status_code is not None and 200 <= self.status_code < 300


def signed_headers(job: Job, moment: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one send: id, timestamp and the signature over them and
    the body."""
    assert job.secret is not None
    signature = Webhook(job.secret).sign(job.message_id, moment, job.body)
    return {
        "webhook-id": job.message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try."""
    seconds = settings.webhook_backoff_seconds * 2 ** (attempts - 1)
    return timedelta(seconds=min(seconds, settings.webhook_backoff_max_seconds))


def _lease(settings: Settings) -> timedelta:
    # Longer than any one send can take (connect + read + write + pool timeouts), plus slack.
    return timedelta(seconds=4 * settings.webhook_timeout_seconds + 30)


def _job(delivery: WebhookDelivery, endpoint: WebhookEndpoint, cipher: SecretCipher) -> Job:
    secret, problem = None, None
    try:
        secret = cipher.decrypt(endpoint.secret_encrypted)
    except SecretsKeyError as exc:
        problem = f"not sent: the signing secret cannot be decrypted ({exc.code}): {exc}"
    return Job(
        delivery.id, endpoint.id, delivery.message_id, endpoint.url, secret, delivery.body, problem
    )


def claim(factory: sessionmaker[Session], settings: Settings, now: datetime) -> list[Job]:
    """Claim a batch of due deliveries by moving their next attempt past the lease, in its own
    transaction; their secrets decrypted."""
    cipher = secret_cipher(settings)
    with unit_of_work(factory) as session:
        jobs = []
        for delivery, endpoint in repository.claim_due(session, now=now, limit=CLAIM_BATCH):
            delivery.next_attempt_at = now + _lease(settings)
            jobs.append(_job(delivery, endpoint, cipher))
        session.flush()
    return jobs


def send(http: httpx2.Client, job: Job, settings: Settings) -> Outcome:
    """One try; never raises for the target's faults (they are the outcome).

    ``http`` comes from :func:`build_http_client`: its transport checks the target's addresses
    when it connects, and connects to the addresses it checked.
    """
    moment = utcnow()
    if job.secret is None:
        return Outcome(moment, None, job.problem, 0.0)
    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    try:
        response = http.post(
            job.url,
            content=job.body.encode(),
            headers=signed_headers(job, moment),
            follow_redirects=False,
        )
        status = response.status_code
        if not 200 <= status < 300:
            error = f"the target answered {status}"
    except TargetRefusedError as exc:
        error = f"refused: {exc}"
    except httpx2.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    duration = (time.perf_counter() - started) * 1000
    return Outcome(moment, status, error, duration)


def record(
    session: Session, *, job: Job, outcome: Outcome, settings: Settings
) -> WebhookDelivery | None:
    """Record one attempt and settle the delivery or schedule its retry; None when it was deleted
    or settled meanwhile."""
    delivery = session.get(WebhookDelivery, job.delivery_id, with_for_update=True)
    if delivery is None or delivery.status != "pending":
        return None  # deleted with its endpoint meanwhile, or settled by another process
    delivery.attempts += 1
    if outcome.ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
            "delivered",
            outcome.attempted_at,
            None,
        )
    elif delivery.attempts >= settings.webhook_max_attempts:
        delivery.status, delivery.next_attempt_at = "failed", None
    else:
        delivery.next_attempt_at = utcnow() + backoff(settings, delivery.attempts)
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=delivery.attempts,
            attempted_at=outcome.attempted_at,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=round(outcome.duration_ms, 3),
            next_attempt_at=delivery.next_attempt_at,
        )
    )
    session.flush()
    return delivery


def deliver_due(
    factory: sessionmaker[Session],
    *,
    settings: Settings,
    http: httpx2.Client,
    now: datetime | None = None,
) -> int:
    """Send every delivery that is due (one claimed batch); returns how many were tried."""
    jobs = claim(factory, settings, now or utcnow())
    for job in jobs:
        outcome = send(http, job, settings)
        with unit_of_work(factory) as session:
            delivery = record(session, job=job, outcome=outcome, settings=settings)
        if not outcome.ok:
            # The endpoint and message ids only: a webhook URL may carry a credential.
            logger.warning(
                "webhook delivery failed",
                extra={
                    "webhook_id": job.endpoint_id,
                    "message_id": job.message_id,
                    "error": outcome.error,
                    "status": None if delivery is None else delivery.status,
                },
            )
    return len(jobs)


def build_http_client(settings: Settings, *, backend: PinnedBackend | None = None) -> httpx2.Client:
    """The client deliveries are sent with: no proxies, no redirects, and every connection
    pinned to an address checked against ``webhook_allow_private_targets`` (``backend``
    replaces the resolver and dialler in tests)."""
    timeout = settings.webhook_timeout_seconds
    backend = backend or PinnedBackend(allow_private=settings.webhook_allow_private_targets)
    return httpx2.Client(
        timeout=httpx2.Timeout(timeout, connect=min(timeout, 3.0)),
        follow_redirects=False,
        trust_env=False,
        transport=PinnedTransport(backend),
    )


def deliver_all_due(
    factory: sessionmaker[Session], *, settings: Settings, http: httpx2.Client
) -> int:
    """Send due deliveries batch after batch until a batch is not full; returns how many were
    tried (the embedded loop's tick)."""
    sent = 0
    while (tried := deliver_due(factory, settings=settings, http=http)) == CLAIM_BATCH:
        sent += tried
    return sent + tried
