"""Model cards: the inventory record of a model and of each version, with their revisions.

``PUT`` writes a new revision (none when the body is the current one); ``If-Match`` with the
current revision number or content hash makes it conditional (412 when stale). Responses carry
the revision's content hash as their ``ETag``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from driftguard.api.deps import require
from driftguard.http.deps import DbSession, SettingsDep
from driftguard.http.params import LimitQuery, ObjectId, OffsetQuery, VersionNumber
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.lifecycle import cards as service
from driftguard.lifecycle.schemas import (
    ModelCardContent,
    ModelCardRead,
    VersionCardContent,
    VersionCardRead,
)
from driftguard.schemas import Page

router = APIRouter(prefix="/models", tags=["cards"])
Reader = Annotated[Principal, require(Permission.MODELS_READ)]
Writer = Annotated[Principal, require(Permission.CARDS_WRITE)]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=500,
        description="the current revision number or content hash; stale → 412",
    ),
]


def _etag(response: Response, content_hash: str) -> None:
    response.headers["ETag"] = f'"{content_hash}"'


@router.get("/{model_id}/card")
def get_model_card(
    model_id: ObjectId, session: DbSession, principal: Reader, response: Response
) -> ModelCardRead:
    """The model's current card, with ``complete`` and the required fields it still ``missing``;
    404 if none was written yet."""
    card = service.read_model_card(session, principal=principal, model_id=model_id)
    _etag(response, card.content_hash)
    return card


@router.put("/{model_id}/card")
def put_model_card(
    model_id: ObjectId,
    body: ModelCardContent,
    session: DbSession,
    principal: Writer,
    response: Response,
    settings: SettingsDep,
    if_match: IfMatch = None,
) -> ModelCardRead:
    """Write the model's card. A change of ``lifecycle_status`` must follow an allowed edge
    (409 otherwise); retiring is final. Classifying the model ``high`` while
    ``DRIFTGUARD_PREDICTION_RETENTION_DAYS`` is below the EU AI Act floor (183 days, Art. 19)
    → 422, unless a retention exception is in force."""
    card = service.put_model_card(
        session,
        principal=principal,
        model_id=model_id,
        data=body,
        prediction_retention_days=settings.prediction_retention_days,
        if_match=if_match,
    )
    _etag(response, card.content_hash)
    return card


@router.get("/{model_id}/card/revisions")
def list_model_card_revisions(
    model_id: ObjectId,
    session: DbSession,
    principal: Reader,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[ModelCardRead]:
    """Every revision of the model's card, newest first."""
    return service.list_model_card_revisions(
        session, principal=principal, model_id=model_id, limit=limit, offset=offset
    )


@router.get("/{model_id}/versions/{number}/card")
def get_version_card(
    model_id: ObjectId,
    number: VersionNumber,
    session: DbSession,
    principal: Reader,
    response: Response,
) -> VersionCardRead:
    card = service.read_version_card(session, principal=principal, model_id=model_id, number=number)
    _etag(response, card.content_hash)
    return card


@router.put("/{model_id}/versions/{number}/card")
def put_version_card(
    model_id: ObjectId,
    number: VersionNumber,
    body: VersionCardContent,
    session: DbSession,
    principal: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> VersionCardRead:
    card = service.put_version_card(
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        data=body,
        if_match=if_match,
    )
    _etag(response, card.content_hash)
    return card


@router.get("/{model_id}/versions/{number}/card/revisions")
def list_version_card_revisions(
    model_id: ObjectId,
    number: VersionNumber,
    session: DbSession,
    principal: Reader,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[VersionCardRead]:
    return service.list_version_card_revisions(
        session, principal=principal, model_id=model_id, number=number, limit=limit, offset=offset
    )
