"""Periodic reviews: a model version attested by its owner and by a validator.

A review is opened by one party's attestation (``open_review``) and completed by the other's
(``attest``); only a completed review counts (due dates, the MRI's staleness, ``review.*`` facts).
Who attests which side:

- **owner**: the owner named by the model's card (``owner_id``); when the model has no card or
  the card names no owner, any ``ml_engineer`` of the model's team;
- **validator**: a member of the model's team with the ``validator`` role.

The same person never attests both sides (separation of duties, 403 naming the rule). Each side
gives a conclusion; the review's conclusion is the more severe of the two (an owner cannot
soften a validator's "unsatisfactory"). The evidence seen is a list of the version's monitoring
report ids (each must exist for that version, else 422) and free text.

At most one review per version is open. Completing is a conditional update of the review's
revision (the claim pattern of ``governance.deployments``), so of concurrent completing
attestations exactly one takes effect; the others see a completed review (409 naming both
states). When the due dates follow from the policy in force is governance's business
(``governance/reviews_due.py``); this module keeps the records.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.db.base import utcnow
from driftguard.errors import (
    ConflictError,
    ErrorDetail,
    ForbiddenError,
    InvalidError,
    NotFoundError,
)
from driftguard.identity.permissions import Permission, Role
from driftguard.identity.principal import Principal
from driftguard.lifecycle import cards, repository
from driftguard.lifecycle.orm import ModelReview
from driftguard.lifecycle.schemas import (
    AttestationRead,
    LifecycleStatus,
    ReviewAttest,
    ReviewConclusion,
    ReviewEvidence,
    ReviewRead,
    ReviewSide,
    ReviewStatus,
)
from driftguard.registry import service as registry_service
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.schemas import Page

SEVERITY = {
    ReviewConclusion.SATISFACTORY: 0,
    ReviewConclusion.NEEDS_REMEDIATION: 1,
    ReviewConclusion.UNSATISFACTORY: 2,
}
SEPARATION_RULE = (
    "separation of duties: the same person cannot attest a review as both owner and validator"
)


def open_review(
    session: Session, *, principal: Principal, model_id: int, number: int, data: ReviewAttest
) -> ReviewRead:
    """Open a review of the version with the caller's attestation (owner or validator side)."""
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    principal.require_in_team(Permission.REVIEWS_ATTEST, model.team_id)
    user_id = _person(principal)
    side = data.side or _default_side(session, principal, model)
    _check_eligible(session, principal, model, side)
    _check_evidence(session, version, data.evidence)
    if cards.lifecycle_status(session, model.id) is LifecycleStatus.RETIRED:
        raise ConflictError(
            f"model {model.id} is retired; its versions are no longer reviewed",
            code="model_retired",
        )
    repository.lock_model(session, model.id)  # one open review per version: openers queue
    existing = repository.open_review(session, version.id)
    if existing is not None:
        raise ConflictError(
            f"version {version.number} of model {model.id} already has an open review "
            f"({existing.id}); attest it to complete it",
            code="review_open",
        )
    review = ModelReview(
        team_id=model.team_id,
        model_id=model.id,
        version_id=version.id,
        status=ReviewStatus.OPEN.value,
        revision=1,
        evidence={},
    )
    _sign(review, side, user_id, data, utcnow())
    session.add(review)
    session.flush()
    read = _read(review, version)
    audit.record(
        session,
        actor=principal,
        action="review.open",
        object_type="model_review",
        object_id=review.id,
        after=_state(review),
    )
    return read


def attest(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    review_id: int,
    data: ReviewAttest,
) -> ReviewRead:
    """The second attestation: it completes the review."""
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    review = repository.review_for_update(session, review_id, version.id)
    if review is None:
        raise NotFoundError(f"review {review_id} of version {number} of model {model_id} not found")
    principal.require_in_team(Permission.REVIEWS_ATTEST, model.team_id)
    _require_status(review, ReviewStatus.OPEN, "attest")
    user_id = _person(principal)
    if user_id in (review.owner_id, review.validator_id):
        raise ForbiddenError(SEPARATION_RULE, code="separation_of_duties")
    missing = ReviewSide.VALIDATOR if review.validator_attested_at is None else ReviewSide.OWNER
    if data.side is not None and data.side is not missing:
        raise ConflictError(
            f"review {review.id}: the {data.side.value} side is already attested; "
            f"only the {missing.value} side remains",
            code="side_attested",
        )
    _check_eligible(session, principal, model, missing)
    _check_evidence(session, version, data.evidence)
    before = _state(review)
    if not repository.claim_review(session, review):
        raise ConflictError(
            f"review {review.id} was changed by another request; reload and retry",
            code="concurrent_change",
        )
    now = utcnow()
    _sign(review, missing, user_id, data, now)
    conclusions = [
        ReviewConclusion(c)
        for c in (review.owner_conclusion, review.validator_conclusion)
        if c is not None
    ]
    review.conclusion = max(conclusions, key=SEVERITY.__getitem__).value
    review.status, review.completed_at = ReviewStatus.COMPLETED.value, now
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="review.complete",
        object_type="model_review",
        object_id=review.id,
        before=before,
        after=_state(review),
    )
    return _read(review, version)


def list_reviews(
    session: Session, *, principal: Principal, model_id: int, number: int, limit: int, offset: int
) -> Page[ReviewRead]:
    _, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    rows, total = repository.version_reviews(session, version.id, limit=limit, offset=offset)
    return Page(items=[_read(r, version) for r in rows], total=total, limit=limit, offset=offset)


def last_completed(session: Session, version_ids: Collection[int] | None) -> dict[int, datetime]:
    """When each version's last review was completed (``None``: of every version)."""
    return repository.last_completed_reviews(session, version_ids)


# --- rules --------------------------------------------------------------------------------------


def _person(principal: Principal) -> int:
    if principal.user_id is None:
        raise ForbiddenError("reviews are attested by people, not API keys")
    return principal.user_id


def _default_side(session: Session, principal: Principal, model: RegisteredModel) -> ReviewSide:
    if principal.team_roles.get(model.team_id) is Role.VALIDATOR:
        return ReviewSide.VALIDATOR
    return ReviewSide.OWNER


def _check_eligible(
    session: Session, principal: Principal, model: RegisteredModel, side: ReviewSide
) -> None:
    role = principal.team_roles.get(model.team_id)
    if side is ReviewSide.VALIDATOR:
        if role is not Role.VALIDATOR:
            raise ForbiddenError(
                "only a validator of the model's team attests the validator side of a review",
                code="not_a_validator",
            )
        return
    owner_id = repository.model_owner_id(session, model.id)
    if owner_id is not None and principal.user_id != owner_id:
        raise ForbiddenError(
            f"only the model's owner (user {owner_id}, named by its card) attests the owner "
            "side of a review",
            code="not_the_owner",
        )
    if owner_id is None and role is not Role.ML_ENGINEER:
        raise ForbiddenError(
            "the model's card names no owner: an ml_engineer of its team attests the owner side",
            code="not_the_owner",
        )


def _check_evidence(session: Session, version: ModelVersion, evidence: ReviewEvidence) -> None:
    if not evidence.report_ids:
        return
    found = repository.existing_reports(session, version.id, evidence.report_ids)
    unknown = [i for i in evidence.report_ids if i not in found]
    if unknown:
        listed = ", ".join(str(i) for i in unknown)
        raise InvalidError(
            f"evidence.report_ids: no report {listed} of version {version.number}",
            details=[
                ErrorDetail(f"evidence.report_ids.{evidence.report_ids.index(i)}", "no such report")
                for i in unknown
            ],
        )


def _require_status(review: ModelReview, allowed: ReviewStatus, verb: str) -> None:
    if review.status != allowed.value:
        raise ConflictError(
            f"review {review.id} is {review.status}; cannot {verb} it (only when {allowed.value})",
            code="invalid_transition",
        )


def _sign(
    review: ModelReview, side: ReviewSide, user_id: int, data: ReviewAttest, now: datetime
) -> None:
    evidence = dict(review.evidence or {})
    evidence[side.value] = data.evidence.model_dump(mode="json")
    review.evidence = evidence
    if side is ReviewSide.OWNER:
        review.owner_id, review.owner_conclusion = user_id, data.conclusion.value
        review.owner_attested_at = now
    else:
        review.validator_id, review.validator_conclusion = user_id, data.conclusion.value
        review.validator_attested_at = now


def _state(review: ModelReview) -> dict[str, Any]:
    return {
        "status": review.status,
        "revision": review.revision,
        "version_id": review.version_id,
        "conclusion": review.conclusion,
        "owner_id": review.owner_id,
        "owner_conclusion": review.owner_conclusion,
        "validator_id": review.validator_id,
        "validator_conclusion": review.validator_conclusion,
    }


def _attestation(
    review: ModelReview, side: ReviewSide, who: int | None, conclusion: str | None, at: Any
) -> AttestationRead | None:
    if conclusion is None or at is None:
        return None
    return AttestationRead(
        side=side,
        user_id=who,
        conclusion=ReviewConclusion(conclusion),
        attested_at=at,
        evidence=ReviewEvidence.model_validate((review.evidence or {}).get(side.value, {})),
    )


def _read(review: ModelReview, version: ModelVersion) -> ReviewRead:
    return ReviewRead(
        id=review.id,
        team_id=review.team_id,
        model_id=review.model_id,
        version_id=review.version_id,
        version=version.number,
        status=ReviewStatus(review.status),
        conclusion=None if review.conclusion is None else ReviewConclusion(review.conclusion),
        owner=_attestation(
            review,
            ReviewSide.OWNER,
            review.owner_id,
            review.owner_conclusion,
            review.owner_attested_at,
        ),
        validator=_attestation(
            review,
            ReviewSide.VALIDATOR,
            review.validator_id,
            review.validator_conclusion,
            review.validator_attested_at,
        ),
        created_at=review.created_at,
        completed_at=review.completed_at,
    )
