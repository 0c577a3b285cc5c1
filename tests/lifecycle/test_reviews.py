"""Periodic reviews: attested by the model's owner and a validator, never by one person for both,
completed once, and only by the people the rules name."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit.orm import AuditRecord
from driftguard.db.session import unit_of_work
from driftguard.errors import ConflictError
from driftguard.governance import reviews_due
from driftguard.lifecycle.orm import ModelReview
from driftguard.lifecycle.schemas import ReviewAttest
from driftguard.settings import Settings
from support.config import make_settings
from support.reviews import ReviewTeam, attest, make_review_team

THREADS = 20


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return make_settings(
        engine.url.render_as_string(hide_password=False), rate_limit_login="100/minute"
    )


@pytest.fixture
def rt(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> ReviewTeam:
    return make_review_team(client, session_factory, hasher)


def actions(factory: sessionmaker[Session], review_id: int) -> list[str]:
    with unit_of_work(factory) as session:
        return list(
            session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.kind == "change", AuditRecord.object_type == "model_review")
                .where(AuditRecord.object_id == str(review_id))
                .order_by(AuditRecord.seq)
            )
        )


def test_owner_opens_and_a_validator_completes_with_the_more_severe_conclusion(
    client: TestClient, rt: ReviewTeam, session_factory: sessionmaker[Session]
) -> None:
    opened = attest(
        client, rt.owner, rt.reviews, "satisfactory", evidence={"notes": "drift stable all year"}
    )
    assert opened.status_code == 201, opened.text
    review = opened.json()
    assert (review["status"], review["conclusion"], review["validator"]) == ("open", None, None)
    assert review["owner"]["user_id"] == rt.owner.id
    assert review["owner"]["evidence"] == {"report_ids": [], "notes": "drift stable all year"}

    done = attest(client, rt.validator, f"{rt.reviews}/{review['id']}/attest", "needs_remediation")
    assert done.status_code == 200, done.text
    completed = done.json()
    assert completed["status"] == "completed"
    assert completed["conclusion"] == "needs_remediation"  # the validator's, the more severe
    assert completed["validator"]["user_id"] == rt.validator.id
    assert completed["completed_at"] is not None
    assert actions(session_factory, review["id"]) == ["review.open", "review.complete"]

    listed = client.get(rt.reviews, headers=rt.viewer.headers).json()
    assert [r["id"] for r in listed["items"]] == [review["id"]]
    # A completed review is final: attesting again is a transition from completed.
    again = attest(client, rt.validator, f"{rt.reviews}/{review['id']}/attest", "satisfactory")
    assert again.status_code == 409
    assert "is completed; cannot attest it (only when open)" in again.json()["message"]


def test_a_validator_may_open_and_the_owner_complete(client: TestClient, rt: ReviewTeam) -> None:
    opened = attest(client, rt.validator, rt.reviews, "unsatisfactory")
    assert opened.status_code == 201, opened.text
    assert opened.json()["validator"]["user_id"] == rt.validator.id
    url = f"{rt.reviews}/{opened.json()['id']}/attest"
    # The validator side is taken: another validator cannot complete it.
    taken = attest(client, rt.second_validator, url, "satisfactory", side="validator")
    assert taken.status_code == 409, taken.text
    done = attest(client, rt.owner, url, "satisfactory")
    assert done.status_code == 200, done.text
    assert done.json()["conclusion"] == "unsatisfactory"


def test_one_open_review_per_version(client: TestClient, rt: ReviewTeam) -> None:
    assert attest(client, rt.owner, rt.reviews, "satisfactory").status_code == 201
    second = attest(client, rt.validator, rt.reviews, "satisfactory")
    assert second.status_code == 409
    assert "already has an open review" in second.json()["message"]


def test_the_same_person_cannot_attest_both_sides(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    rt = make_review_team(client, session_factory, hasher)
    # The card names a validator of the team as the model's owner.
    response = client.put(
        f"/api/v1/models/{rt.model_id}/card",
        json={"owner_id": rt.validator.id, "business_use": "credit decisions"},
        headers=rt.owner.headers,
    )
    assert response.status_code == 200, response.text
    opened = attest(client, rt.validator, rt.reviews, "satisfactory", side="owner")
    assert opened.status_code == 201, opened.text
    both = attest(
        client, rt.validator, f"{rt.reviews}/{opened.json()['id']}/attest", "satisfactory"
    )
    assert both.status_code == 403
    assert both.json()["message"] == (
        "separation of duties: the same person cannot attest a review as both owner and validator"
    )
    # The review is still open for a different validator.
    done = attest(
        client, rt.second_validator, f"{rt.reviews}/{opened.json()['id']}/attest", "satisfactory"
    )
    assert done.status_code == 200, done.text


def test_only_the_owner_and_validators_attest(client: TestClient, rt: ReviewTeam) -> None:
    # An ml_engineer who is not the owner named by the card.
    not_owner = attest(client, rt.engineer, rt.reviews, "satisfactory")
    assert not_owner.status_code == 403
    assert "only the model's owner" in not_owner.json()["message"]
    # An ml_engineer claiming the validator side.
    not_validator = attest(client, rt.owner, rt.reviews, "satisfactory", side="validator")
    assert not_validator.status_code == 403
    assert "only a validator of the model's team" in not_validator.json()["message"]
    # A viewer lacks the permission; a validator of another team does not see the model.
    assert attest(client, rt.viewer, rt.reviews, "satisfactory").status_code == 403
    assert attest(client, rt.foreign_validator, rt.reviews, "satisfactory").status_code == 404
    opened = attest(client, rt.owner, rt.reviews, "satisfactory").json()
    url = f"{rt.reviews}/{opened['id']}/attest"
    assert attest(client, rt.foreign_validator, url, "satisfactory").status_code == 404
    assert attest(client, rt.engineer, url, "satisfactory").status_code == 403


def test_without_an_owner_on_the_card_any_ml_engineer_attests_the_owner_side(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    rt = make_review_team(client, session_factory, hasher, card=False)
    assert attest(client, rt.viewer, rt.reviews, "satisfactory", side="owner").status_code == 403
    opened = attest(client, rt.engineer, rt.reviews, "satisfactory")
    assert opened.status_code == 201, opened.text
    assert opened.json()["owner"]["user_id"] == rt.engineer.id


def test_bad_input_is_named(client: TestClient, rt: ReviewTeam) -> None:
    unknown = attest(client, rt.owner, rt.reviews, "satisfactory", verdict="fine")
    assert unknown.status_code == 422
    assert "verdict" in unknown.text
    conclusion = attest(client, rt.owner, rt.reviews, "excellent")
    assert conclusion.status_code == 422
    assert "conclusion" in conclusion.text
    missing_report = attest(
        client, rt.owner, rt.reviews, "satisfactory", evidence={"report_ids": [987654]}
    )
    assert missing_report.status_code == 422, missing_report.text
    assert missing_report.json()["details"][0]["loc"] == "evidence.report_ids.0"
    assert "987654" in missing_report.json()["message"]
    listed = client.get(rt.reviews, headers=rt.viewer.headers).json()
    assert listed["total"] == 0  # nothing was written


def test_twenty_concurrent_completing_attestations_one_wins(
    client: TestClient, rt: ReviewTeam, session_factory: sessionmaker[Session]
) -> None:
    opened = attest(client, rt.owner, rt.reviews, "satisfactory").json()
    validators = [rt.validator.principal, rt.second_validator.principal] * (THREADS // 2)

    def complete(i: int) -> Callable[[Session], object]:
        data = ReviewAttest(conclusion="satisfactory")
        return lambda s: reviews_due.attest(
            s,
            principal=validators[i],
            model_id=rt.model_id,
            number=1,
            review_id=opened["id"],
            data=data,
        )

    def run(call: Callable[[Session], object]) -> str:
        try:
            with unit_of_work(session_factory) as session:
                call(session)
            return "ok"
        except ConflictError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(run, [complete(i) for i in range(THREADS)]))
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) <= {"ok", "invalid_transition", "concurrent_change"}, outcomes
    assert actions(session_factory, opened["id"]).count("review.complete") == 1
    with unit_of_work(session_factory) as session:
        rows = session.scalars(select(ModelReview)).all()
        assert [(r.status, r.revision) for r in rows] == [("completed", 2)]
