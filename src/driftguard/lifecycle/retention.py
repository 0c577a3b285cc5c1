"""The retention floor of EU high-risk models, and the audited exceptions to it.

The EU AI Act requires the logs a high-risk system generates automatically to be kept at least
six months (Reg. 2024/1689 Art. 12 and Art. 19(1) for providers, Art. 26(6) for deployers). In
DriftGuard those logs are a version's raw predictions and the audit records about the model and
its versions. The floor is :data:`FLOOR_DAYS` (183: six months of the longest kind).

A model is held to the floor while its current card says ``ai_act_class: high`` and no exception
is in force for it. Where it is enforced:

- **The purges keep it.** The raw-prediction purge (``ingest.storage_maintenance``, run by the
  maintenance job and ``driftguard predictions purge|maintain``) is given a hold
  (:func:`prediction_hold`): the held versions' predictions younger than the floor stay, whatever
  ``DRIFTGUARD_PREDICTION_RETENTION_DAYS`` says (their retention is max(setting, floor)). The
  audit purge (``driftguard audit purge``) is given one too (:func:`audit_hold`): the chain is
  cut as a prefix only, so it stops before the first record younger than the floor about a held
  model or version; the purge's own record names the seq it kept from and why.
- **Writing a card refuses it.** A card ``PUT`` that classifies a model high while the
  prediction retention is shorter than the floor is refused (422 naming ``ai_act_class``, the
  setting and the article), unless an exception is in force (:func:`check_classification`).
- **Start-up warns.** A setting is read before any database is at hand, so it is not refused
  at load: the app's start-up logs a warning naming the setting and the article when the
  retention is below the floor and high-risk models without an exception exist
  (:func:`warn_if_below_floor`), and the purges keep the floor for them all the same.

An exception (``POST /models/{id}/retention-exception``, admins only) has a reason and an expiry
(in the future, at most :data:`MAX_EXCEPTION_DAYS` ahead: an exception is re-decided at least
yearly); it is in force until it expires (``now < expires_at``) or is withdrawn. Both are
audited (``retention.exception``, ``retention.exception.withdraw``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit import service as audit
from driftguard.audit.schemas import PurgeHold
from driftguard.db.base import utcnow
from driftguard.db.session import reading
from driftguard.errors import ConflictError, ErrorDetail, InvalidError, NotFoundError
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.ingest.storage_maintenance import RetentionHold
from driftguard.lifecycle import repository
from driftguard.lifecycle.orm import RetentionException
from driftguard.lifecycle.schemas import (
    AiActClass,
    RetentionExceptionCreate,
    RetentionExceptionRead,
    RetentionRead,
)
from driftguard.registry import service as registry_service
from driftguard.settings import Settings

logger = logging.getLogger("driftguard.retention")

FLOOR_DAYS = 183
MAX_EXCEPTION_DAYS = 366
HISTORY = 20
ARTICLE = "EU AI Act Art. 19(1) (logs of high-risk systems kept at least six months; Art. 12)"
PREDICTION_SETTING = "DRIFTGUARD_PREDICTION_RETENTION_DAYS"
HIGH = AiActClass.HIGH.value


def below_floor(retention_days: int) -> bool:
    """Whether a retention setting keeps less than the floor (0 keeps forever).

    >>> below_floor(30), below_floor(0), below_floor(183)
    (True, False, False)
    """
    return 0 < retention_days < FLOOR_DAYS


def effective_days(retention_days: int, *, held: bool) -> int:
    """What the purge applies to a model: max(setting, floor) when held (0 keeps forever).

    >>> effective_days(30, held=True), effective_days(30, held=False), effective_days(0, held=True)
    (183, 30, 0)
    """
    if retention_days == 0 or not held:
        return retention_days
    return max(retention_days, FLOOR_DAYS)


# --- the holds the purges apply -----------------------------------------------------------------


def prediction_hold(session: Session, now: datetime) -> RetentionHold | None:
    """The held versions' raw predictions younger than the floor (``HoldSource``)."""
    versions = repository.held_version_ids(session, now=now, ai_act_class=HIGH)
    if not versions:
        return None
    return RetentionHold(
        version_ids=frozenset(versions),
        since=now - timedelta(days=FLOOR_DAYS),
        reason=f"retention floor of {FLOOR_DAYS} days for EU AI Act high-risk models ({ARTICLE})",
    )


def audit_hold(session: Session, now: datetime) -> PurgeHold | None:
    """The first audit record younger than the floor about a held model or one of its versions:
    an audit purge keeps it and every record after it."""
    first = repository.first_audit_seq_concerning(
        session, now=now, since=now - timedelta(days=FLOOR_DAYS), ai_act_class=HIGH
    )
    if first is None:
        return None
    return PurgeHold(
        keep_from_seq=first,
        reason=(
            f"record {first} and later are kept: audit records of EU AI Act high-risk models "
            f"younger than {FLOOR_DAYS} days are kept ({ARTICLE}); record a retention exception "
            "for the model to purge them"
        ),
    )


def warn_if_below_floor(factory: sessionmaker[Session], settings: Settings) -> bool:
    """At start-up: a warning naming the setting and the article when the prediction retention
    is shorter than the floor and high-risk models without an exception exist. True if warned."""
    if not below_floor(settings.prediction_retention_days):
        return False
    with reading(factory) as session:
        held = repository.held_version_ids(session, now=utcnow(), ai_act_class=HIGH)
    if not held:
        return False
    logger.warning(
        "%s=%d is shorter than the retention floor of %d days that %s requires for the %d "
        "versions of EU AI Act high-risk models without a retention exception; the purge keeps "
        "%d days for them",
        PREDICTION_SETTING,
        settings.prediction_retention_days,
        FLOOR_DAYS,
        ARTICLE,
        len(held),
        FLOOR_DAYS,
    )
    return True


# --- the card's classification ------------------------------------------------------------------


def check_classification(
    session: Session,
    *,
    model_id: int,
    ai_act_class: AiActClass | None,
    prediction_retention_days: int,
    now: datetime | None = None,
) -> None:
    """A card that classifies its model high while the prediction retention is below the floor
    is refused, unless an exception is in force for the model."""
    if ai_act_class is not AiActClass.HIGH or not below_floor(prediction_retention_days):
        return
    if repository.retention_exception_in_force(session, model_id, now or utcnow()) is not None:
        return
    message = (
        f"ai_act_class high needs raw predictions kept at least {FLOOR_DAYS} days, but "
        f"{PREDICTION_SETTING} is {prediction_retention_days} ({ARTICLE}); raise the setting, "
        f"or have an admin record a retention exception "
        f"(POST /api/v1/models/{model_id}/retention-exception)"
    )
    raise InvalidError(
        message, code="retention_below_floor", details=[ErrorDetail("ai_act_class", message)]
    )


# --- exceptions ---------------------------------------------------------------------------------


def read_retention(
    session: Session, *, principal: Principal, model_id: int, settings: Settings
) -> RetentionRead:
    model = registry_service.get_model(session, principal=principal, model_id=model_id)
    now = utcnow()
    in_force = repository.retention_exception_in_force(session, model.id, now)
    high = repository.ai_act_class(session, model.id) == HIGH
    held = high and in_force is None
    retention = settings.prediction_retention_days
    return RetentionRead(
        model_id=model.id,
        high_risk=high,
        floor_days=FLOOR_DAYS,
        floor_applies=held,
        prediction_retention_days=retention,
        effective_prediction_retention_days=effective_days(retention, held=held),
        exception=None if in_force is None else _read(in_force, now),
        history=[
            _read(row, now)
            for row in repository.retention_exceptions(session, model.id, limit=HISTORY)
        ],
    )


def record_exception(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    data: RetentionExceptionCreate,
    now: datetime | None = None,
) -> RetentionExceptionRead:
    """Record an exception to the floor for the model; 409 while another is in force."""
    now = now or utcnow()
    model = registry_service.get_model(session, principal=principal, model_id=model_id)
    principal.require_in_team(Permission.RETENTION_EXCEPTIONS_WRITE, model.team_id)
    if data.expires_at <= now:
        raise InvalidError(
            "expires_at must be in the future",
            details=[ErrorDetail("expires_at", f"{data.expires_at.isoformat()} is not after now")],
        )
    if data.expires_at > now + timedelta(days=MAX_EXCEPTION_DAYS):
        raise InvalidError(
            f"expires_at is more than {MAX_EXCEPTION_DAYS} days ahead",
            details=[
                ErrorDetail(
                    "expires_at",
                    f"at most {MAX_EXCEPTION_DAYS} days ahead: an exception is re-decided yearly",
                )
            ],
        )
    repository.lock_model(session, model.id)  # one writer of the model's exceptions at a time
    current = repository.retention_exception_in_force(session, model.id, now)
    if current is not None:
        raise ConflictError(
            f"retention exception {current.id} of model {model.id} is in force until "
            f"{current.expires_at.isoformat()}; withdraw it (DELETE) before recording another",
            code="retention_exception_in_force",
        )
    row = RetentionException(
        model_id=model.id,
        team_id=model.team_id,
        reason=data.reason,
        expires_at=data.expires_at,
        created_by_id=principal.user_id,
        created_by_api_key_id=principal.api_key_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="retention.exception",
        object_type="model",
        object_id=model.id,
        after={
            "exception_id": row.id,
            "reason": row.reason,
            "expires_at": row.expires_at,
            "floor_days": FLOOR_DAYS,
        },
    )
    return _read(row, now)


def withdraw_exception(
    session: Session, *, principal: Principal, model_id: int, now: datetime | None = None
) -> RetentionExceptionRead:
    """Withdraw the exception in force: the floor applies again at once. 404 if the model never
    had one; 409 naming its state if the newest one is no longer in force."""
    now = now or utcnow()
    model = registry_service.get_model(session, principal=principal, model_id=model_id)
    principal.require_in_team(Permission.RETENTION_EXCEPTIONS_WRITE, model.team_id)
    repository.lock_model(session, model.id)
    latest = repository.latest_retention_exception(session, model.id)
    if latest is None:
        raise NotFoundError(f"model {model.id} has no retention exception")
    state = _status(latest, now)
    moved = state == "in_force" and repository.withdraw_retention_exception(
        session,
        latest.id,
        now=now,
        values={
            "withdrawn_by_id": principal.user_id,
            "withdrawn_by_api_key_id": principal.api_key_id,
        },
    )
    if not moved:
        if state == "in_force":  # withdrawn by a concurrent writer meanwhile
            state = "withdrawn"
        raise ConflictError(
            f"retention exception {latest.id} of model {model.id} is {state}, not in_force; "
            "only an exception in force can be withdrawn",
            code="retention_exception_not_in_force",
        )
    row = repository.latest_retention_exception(session, model.id)
    assert row is not None
    audit.record(
        session,
        actor=principal,
        action="retention.exception.withdraw",
        object_type="model",
        object_id=model.id,
        before={"exception_id": row.id, "status": "in_force", "expires_at": row.expires_at},
        after={"exception_id": row.id, "status": "withdrawn", "withdrawn_at": row.withdrawn_at},
    )
    return _read(row, now)


def _status(row: RetentionException, now: datetime) -> str:
    if row.withdrawn_at is not None:
        return "withdrawn"
    return "in_force" if now < row.expires_at else "expired"


def _read(row: RetentionException, now: datetime) -> RetentionExceptionRead:
    return RetentionExceptionRead(
        id=row.id,
        model_id=row.model_id,
        reason=row.reason,
        expires_at=row.expires_at,
        created_by_id=row.created_by_id,
        created_by_api_key_id=row.created_by_api_key_id,
        created_at=row.created_at,
        withdrawn_at=row.withdrawn_at,
        withdrawn_by_id=row.withdrawn_by_id,
        withdrawn_by_api_key_id=row.withdrawn_by_api_key_id,
        status=_status(row, now),
    )
