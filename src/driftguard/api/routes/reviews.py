"""Periodic reviews: a version attested by its owner and a validator; what is due and late.

``POST …/reviews`` opens a review with the caller's attestation; ``POST …/reviews/{id}/attest``
is the other party's, which completes it. ``GET /reviews?status=due_soon|overdue`` lists the
production versions whose review is coming or late, in the caller's teams.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from driftguard.api.deps import require
from driftguard.governance import reviews_due
from driftguard.governance.schemas import ReviewDueRead
from driftguard.http.deps import DbSession
from driftguard.http.params import LimitQuery, ObjectId, OffsetQuery, VersionNumber
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.lifecycle import reviews
from driftguard.lifecycle.schemas import ReviewAttest, ReviewRead
from driftguard.schemas import Page

router = APIRouter(tags=["reviews"])
Reader = Annotated[Principal, require(Permission.MODELS_READ)]
Attester = Annotated[Principal, require(Permission.REVIEWS_ATTEST)]
VERSION = "/models/{model_id}/versions/{number}/reviews"


@router.post(VERSION, status_code=201)
def open_review(
    model_id: ObjectId,
    number: VersionNumber,
    body: ReviewAttest,
    session: DbSession,
    principal: Attester,
) -> ReviewRead:
    """Open the version's review with your attestation (owner or validator side); 409 if one
    is already open."""
    return reviews.open_review(
        session, principal=principal, model_id=model_id, number=number, data=body
    )


@router.post(VERSION + "/{review_id}/attest")
def attest_review(
    model_id: ObjectId,
    number: VersionNumber,
    review_id: ObjectId,
    body: ReviewAttest,
    session: DbSession,
    principal: Attester,
) -> ReviewRead:
    """The second attestation, by the other party: completes the review (and resolves the
    version's overdue-review alert)."""
    return reviews_due.attest(
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        review_id=review_id,
        data=body,
    )


@router.get(VERSION)
def list_version_reviews(
    model_id: ObjectId,
    number: VersionNumber,
    session: DbSession,
    principal: Reader,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[ReviewRead]:
    """The version's reviews, newest first."""
    return reviews.list_reviews(
        session, principal=principal, model_id=model_id, number=number, limit=limit, offset=offset
    )


@router.get("/reviews")
def list_reviews_due(
    session: DbSession,
    principal: Reader,
    status: Literal["due_soon", "overdue"],
    window_days: Annotated[
        int,
        Query(ge=1, le=reviews_due.MAX_WINDOW_DAYS, description="how far ahead due_soon looks"),
    ] = reviews_due.DEFAULT_WINDOW_DAYS,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[ReviewDueRead]:
    """Production versions whose periodic review is overdue, or due within ``window_days``,
    soonest due first."""
    return reviews_due.list_due(
        session,
        principal=principal,
        status=status,
        window_days=window_days,
        limit=limit,
        offset=offset,
    )
