"""The EU AI Act retention floor of a model (Art. 12, 19(1), 26(6)) and its audited exception.

``GET`` shows whether the floor applies to the model, what the purges keep of it, and the
exception in force with the recent history; ``POST`` records an exception (admins only: a reason
and an expiry in the future), ``DELETE`` withdraws it. See ``lifecycle/retention.py``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from driftguard.api.deps import require
from driftguard.http.deps import DbSession, SettingsDep
from driftguard.http.params import ObjectId
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.lifecycle import retention as service
from driftguard.lifecycle.schemas import (
    RetentionExceptionCreate,
    RetentionExceptionRead,
    RetentionRead,
)

router = APIRouter(prefix="/models", tags=["retention"])
Reader = Annotated[Principal, require(Permission.MODELS_READ)]
Admin = Annotated[Principal, require(Permission.RETENTION_EXCEPTIONS_WRITE)]


@router.get("/{model_id}/retention-exception")
def get_retention(
    model_id: ObjectId, session: DbSession, principal: Reader, settings: SettingsDep
) -> RetentionRead:
    """The model's retention: whether the floor applies, and the exception in force (if any)."""
    return service.read_retention(
        session, principal=principal, model_id=model_id, settings=settings
    )


@router.post("/{model_id}/retention-exception", status_code=201)
def record_retention_exception(
    model_id: ObjectId, body: RetentionExceptionCreate, session: DbSession, principal: Admin
) -> RetentionExceptionRead:
    """Record an exception to the floor (audited as ``retention.exception``); 409 while another
    is in force, 422 for an expiry in the past or more than a year ahead."""
    return service.record_exception(session, principal=principal, model_id=model_id, data=body)


@router.delete("/{model_id}/retention-exception")
def withdraw_retention_exception(
    model_id: ObjectId, session: DbSession, principal: Admin
) -> RetentionExceptionRead:
    """Withdraw the exception in force (audited): the floor applies again at once."""
    return service.withdraw_exception(session, principal=principal, model_id=model_id)
