"""Builders for the model-risk lifecycle, through the API as a team would: complete cards and an
independent validation, what the default policy requires before a tier-1 or EU high-risk
version goes to production."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.identity.orm import User
from driftguard.identity.permissions import Role
from support.identity import auth_headers, make_user

Headers = dict[str, str]


def model_card(owner_id: int, **fields: Any) -> dict[str, Any]:
    """A model card with every required field filled (``ai_act_class`` minimal by default)."""
    body: dict[str, Any] = {
        "owner_id": owner_id,
        "business_use": "Decide consumer credit applications.",
        "intended_use": "Scoring of complete applications by the retail credit desk.",
        "out_of_scope_uses": "Business loans.",
        "known_limitations": "Thin-file applicants are scored conservatively.",
        "data_sources": ["core banking ledger"],
        "ai_act_class": "minimal",
    }
    if fields.get("ai_act_class") == "high":
        body["annex_iii_area"] = "essential_services"
    body.update(fields)
    return body


VERSION_CARD: dict[str, Any] = {
    "changes": "first version",
    "training_data_start": "2026-01-01T00:00:00Z",
    "training_data_end": "2026-06-01T00:00:00Z",
    "evaluation_summary": "AUC 0.81 on the holdout.",
    "known_limitations": "Not evaluated on applicants over 80.",
}


def member(
    client: TestClient,
    factory: sessionmaker[Session],
    hasher: PasswordHasher,
    team_id: int,
    role: Role,
) -> tuple[Headers, int]:
    """A new member of the team with ``role``: their headers and user id."""
    email = make_user(factory, hasher, teams={team_id: role})
    with unit_of_work(factory) as session:
        user_id = session.scalar(select(User.id).where(User.email == email))
    assert user_id is not None
    return auth_headers(client, email), user_id


def write_cards(
    client: TestClient,
    writer: Headers,
    *,
    model_id: int,
    version: int,
    owner_id: int,
    **model_fields: Any,
) -> None:
    """Complete cards: the model's (owned by ``owner_id``) and the version's."""
    url = f"/api/v1/models/{model_id}"
    for path, body in (
        (f"{url}/card", model_card(owner_id, **model_fields)),
        (f"{url}/versions/{version}/card", VERSION_CARD),
    ):
        response = client.put(path, json=body, headers=writer)
        assert response.status_code == 200, response.text
        assert response.json()["complete"] is True, response.text


def validate(
    client: TestClient,
    validator: Headers,
    *,
    model_id: int,
    version: int,
    outcome: str = "approved",
) -> dict[str, Any]:
    """An independent validation of the version by ``validator``, decided with ``outcome``."""
    url = f"/api/v1/models/{model_id}/versions/{version}/validations"
    opened = client.post(
        url, json={"scope": "conceptual soundness", "method": "back-testing"}, headers=validator
    )
    assert opened.status_code == 201, opened.text
    body: dict[str, Any] = {"outcome": outcome}
    if outcome == "approved_with_conditions":
        body["conditions"] = "re-validate after the next retraining"
    decided = client.post(f"{url}/{opened.json()['id']}/outcome", json=body, headers=validator)
    assert decided.status_code == 200, decided.text
    result: dict[str, Any] = decided.json()
    return result


def make_deployable(
    client: TestClient,
    factory: sessionmaker[Session],
    hasher: PasswordHasher,
    writer: Headers,
    *,
    team_id: int,
    model_id: int,
    version: int = 1,
    **model_fields: Any,
) -> None:
    """What the default policy requires of a tier-1 or EU high-risk version in production:
    complete cards (owned by a new engineer of the team) and a validation approved by a new
    validator of the team (independent: neither created the version nor asks to deploy it)."""
    _, owner_id = member(client, factory, hasher, team_id, Role.ML_ENGINEER)
    write_cards(
        client, writer, model_id=model_id, version=version, owner_id=owner_id, **model_fields
    )
    validator, _ = member(client, factory, hasher, team_id, Role.VALIDATOR)
    validate(client, validator, model_id=model_id, version=version)
