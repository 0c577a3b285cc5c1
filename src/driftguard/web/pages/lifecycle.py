"""The model-risk lifecycle in the web UI: a version's risk record on the model page, and the
findings and reviews page (open findings, overdue first; reviews due soon or overdue)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Request, Response
from sqlalchemy.orm import Session

from driftguard.errors import NotFoundError
from driftguard.governance import reviews_due
from driftguard.governance.schemas import ReviewDueRead
from driftguard.http.deps import DbSession
from driftguard.identity import service as identity_service
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.lifecycle import cards, findings, incidents, reviews, validations
from driftguard.lifecycle.incident_schemas import IncidentRead
from driftguard.lifecycle.schemas import ModelCardRead, ReviewRead, VersionCardRead
from driftguard.lifecycle.schemas_validation import FindingRead, ValidationRead
from driftguard.registry import service as registry_service
from driftguard.web.routing import web_router
from driftguard.web.security import SignedIn, page_permission
from driftguard.web.templating import render

router = web_router()
Reader = Annotated[SignedIn, page_permission(Permission.MODELS_READ)]
VALIDATIONS = 20  # newest validations of a version on the model page
FINDINGS = 50  # findings per validation on the model page
REVIEWS = 20
INCIDENTS = 20
LIST_SIZE = 100  # rows per list on the findings and reviews page
OPEN_FINDINGS = ("open", "remediation_submitted")


@dataclass(frozen=True, slots=True)
class RiskRecord:
    """What the model page shows of a version's lifecycle: its cards, validations with their
    findings, reviews with the next due date, and incidents."""

    model_card: ModelCardRead | None
    version_card: VersionCardRead | None
    validations: list[tuple[ValidationRead, list[FindingRead]]]
    validations_total: int
    reviews: list[ReviewRead]
    next_review: ReviewDueRead | None
    incidents: list[IncidentRead]
    incidents_total: int
    people: dict[int, str]


def risk_record(
    session: Session, *, principal: Principal, model_id: int, team_id: int, number: int
) -> RiskRecord:
    """The risk record of version ``number`` of a model the caller can read."""
    try:
        model_card: ModelCardRead | None = cards.read_model_card(
            session, principal=principal, model_id=model_id
        )
    except NotFoundError:  # no card written yet (the model itself was read already)
        model_card = None
    try:
        version_card: VersionCardRead | None = cards.read_version_card(
            session, principal=principal, model_id=model_id, number=number
        )
    except NotFoundError:
        version_card = None
    page = validations.list_validations(
        session, principal=principal, model_id=model_id, number=number, limit=VALIDATIONS, offset=0
    )
    checked = [
        (
            v,
            findings.list_for_validation(
                session,
                principal=principal,
                model_id=model_id,
                number=number,
                validation_id=v.id,
                limit=FINDINGS,
                offset=0,
            ).items,
        )
        for v in page.items
    ]
    done = reviews.list_reviews(
        session, principal=principal, model_id=model_id, number=number, limit=REVIEWS, offset=0
    ).items
    # The review clock runs only for versions live in production; the model's own team.
    clocks = reviews_due.production_clocks(session, visible=frozenset({team_id}))
    now = datetime.now(UTC)
    clock = next((c for c in clocks if c.model_id == model_id and c.version == number), None)
    found = incidents.list_incidents(
        session,
        principal=principal,
        statuses=None,
        serious=None,
        late_only=None,
        model_id=model_id,
        limit=INCIDENTS,
        offset=0,
    )
    mine = [i for i in found.items if i.version == number]
    ids: set[int] = set()
    for card in (model_card, version_card):
        if card is not None and card.created_by_id is not None:
            ids.add(card.created_by_id)
    if model_card is not None and model_card.owner_id is not None:
        ids.add(model_card.owner_id)
    for _, rows in checked:
        ids |= {f.owner_id for f in rows if f.owner_id is not None}
    for r in done:
        ids |= {a.user_id for a in (r.owner, r.validator) if a is not None and a.user_id}
    return RiskRecord(
        model_card=model_card,
        version_card=version_card,
        validations=checked,
        validations_total=page.total,
        reviews=done,
        next_review=clock.read(now, reviews_due.DEFAULT_WINDOW_DAYS) if clock else None,
        incidents=mine,
        incidents_total=len(mine),
        people=identity_service.display_names(session, user_ids=ids),
    )


@router.get("/findings")
def findings_and_reviews(request: Request, session: DbSession, user: Reader) -> Response:
    """Open findings of the caller's teams, overdue first, and the reviews due soon or overdue."""
    principal = user.principal
    overdue = findings.list_findings(
        session,
        principal=principal,
        statuses=OPEN_FINDINGS,
        severities=None,
        model_id=None,
        overdue=True,
        limit=LIST_SIZE,
        offset=0,
    )
    in_time = findings.list_findings(
        session,
        principal=principal,
        statuses=OPEN_FINDINGS,
        severities=None,
        model_id=None,
        overdue=False,
        limit=LIST_SIZE,
        offset=0,
    )
    late = reviews_due.list_due(
        session, principal=principal, status="overdue", limit=LIST_SIZE, offset=0
    )
    soon = reviews_due.list_due(
        session, principal=principal, status="due_soon", limit=LIST_SIZE, offset=0
    )
    rows = overdue.items + in_time.items
    names = registry_service.model_names(
        session, principal=principal, model_ids=sorted({f.model_id for f in rows})
    )
    owners = {f.owner_id for f in rows if f.owner_id is not None}
    context = {
        "user": user,
        "findings": rows,
        "findings_total": overdue.total + in_time.total,
        "overdue_total": overdue.total,
        "reviews": late.items + soon.items,
        "reviews_total": late.total + soon.total,
        "model_names": names,
        "people": identity_service.display_names(session, user_ids=owners),
    }
    return render(request, "findings.html", context)
