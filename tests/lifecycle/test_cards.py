"""Model and version cards: immutable revisions, conditional writes, the lifecycle's edges, and
what a retired model may no longer do."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from driftguard.audit.orm import AuditRecord
from driftguard.cli import cards as card_command
from driftguard.cli.main import app as cli
from driftguard.client import Client, DriftGuardAPIError
from driftguard.db.session import unit_of_work
from driftguard.errors import ConflictError, StaleError
from driftguard.identity.orm import User
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.lifecycle import cards
from driftguard.lifecycle.orm import ModelCardRevision
from driftguard.lifecycle.schemas import ModelCardContent
from driftguard.settings import Settings
from support.config import make_settings
from support.identity import auth_headers, make_team, make_user
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.registry import create_model, create_version

Headers = dict[str, str]
THREADS = 20


@pytest.fixture
def settings(engine: Engine) -> Settings:
    # More people sign in here than the default login limit lets one address per minute.
    return make_settings(
        engine.url.render_as_string(hide_password=False), rate_limit_login="100/minute"
    )


@dataclass
class Team:
    id: int
    engineer: Headers
    engineer_id: int
    viewer: Headers
    stranger: Headers  # an engineer of another team
    outsider_id: int  # a user of another team only
    model_id: int

    @property
    def card(self) -> str:
        return f"/api/v1/models/{self.model_id}/card"

    @property
    def version_card(self) -> str:
        return f"/api/v1/models/{self.model_id}/versions/1/card"


def _user_id(factory: sessionmaker[Session], email: str) -> int:
    with unit_of_work(factory) as session:
        user_id = session.scalar(select(User.id).where(User.email == email))
    assert user_id is not None
    return user_id


@pytest.fixture
def team(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> Team:
    team_id, other = make_team(session_factory), make_team(session_factory)
    engineer = make_user(session_factory, hasher, teams={team_id: Role.ML_ENGINEER})
    outsider = make_user(session_factory, hasher, teams={other: Role.VIEWER})
    engineer_headers = auth_headers(client, engineer)
    model = create_model(client, engineer_headers, team_id)
    create_version(client, engineer_headers, model["id"])
    return Team(
        id=team_id,
        engineer=engineer_headers,
        engineer_id=_user_id(session_factory, engineer),
        viewer=auth_headers(
            client, make_user(session_factory, hasher, teams={team_id: Role.VIEWER})
        ),
        stranger=auth_headers(
            client, make_user(session_factory, hasher, teams={other: Role.ML_ENGINEER})
        ),
        outsider_id=_user_id(session_factory, outsider),
        model_id=model["id"],
    )


def full_card(team: Team, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "owner_id": team.engineer_id,
        "business_use": "Decide consumer credit applications up to 50k EUR.",
        "intended_use": "Scoring of complete applications by the retail credit desk.",
        "out_of_scope_uses": "Business loans; applicants under 18.",
        "known_limitations": "Thin-file applicants are scored conservatively.",
        "data_sources": ["core banking ledger", "credit bureau"],
        "third_party": False,
        "ai_act_class": "high",
        "annex_iii_area": "essential_services",
        "sections": {"Monitoring": "PSI per feature, **daily**."},
    }
    body.update(fields)
    return body


def put(client: TestClient, url: str, headers: Headers, body: dict[str, Any], **extra: str) -> Any:
    return client.put(url, json=body, headers={**headers, **extra})


def changes(factory: sessionmaker[Session], action: str, object_id: int) -> list[AuditRecord]:
    with unit_of_work(factory) as session:
        return list(
            session.scalars(
                select(AuditRecord)
                .where(
                    AuditRecord.kind == "change",
                    AuditRecord.action == action,
                    AuditRecord.object_id == str(object_id),
                )
                .order_by(AuditRecord.seq)
            )
        )


# --- revisions ------------------------------------------------------------------------------------


def test_a_card_never_written_is_not_found(client: TestClient, team: Team) -> None:
    for url in (team.card, team.version_card):
        response = client.get(url, headers=team.viewer)
        assert response.status_code == 404
        assert "no card yet" in response.json()["message"]
        listed = client.get(f"{url}/revisions", headers=team.viewer)
        assert listed.status_code == 200
        assert listed.json()["total"] == 0


def test_each_change_is_a_new_immutable_revision_listed_newest_first(
    client: TestClient, team: Team, session_factory: sessionmaker[Session]
) -> None:
    draft = {"business_use": "credit decisions"}
    first = put(client, team.card, team.engineer, draft)
    assert first.status_code == 200, first.text
    one = first.json()
    assert (one["revision"], one["lifecycle_status"], one["complete"]) == (1, "development", False)
    assert one["missing"] == [
        "owner_id",
        "intended_use",
        "out_of_scope_uses",
        "known_limitations",
        "data_sources",
        "ai_act_class",
    ]
    assert first.headers["ETag"] == f'"{one["content_hash"]}"'
    second = put(client, team.card, team.engineer, full_card(team))
    assert second.status_code == 200, second.text
    two = second.json()
    assert (two["revision"], two["complete"], two["missing"]) == (2, True, [])
    assert two["created_by_id"] == team.engineer_id
    assert two["content_hash"] != one["content_hash"]

    listed = client.get(f"{team.card}/revisions", headers=team.viewer).json()
    assert [r["revision"] for r in listed["items"]] == [2, 1]
    # Revision 1 reads back exactly as it was written, after revision 2 replaced it.
    assert listed["items"][1] == one
    current = client.get(team.card, headers=team.viewer)
    assert current.json() == two
    assert current.headers["ETag"] == f'"{two["content_hash"]}"'
    with unit_of_work(session_factory) as session:
        stored = session.scalars(
            select(ModelCardRevision.content_hash)
            .where(ModelCardRevision.model_id == team.model_id)
            .order_by(ModelCardRevision.number)
        ).all()
    assert list(stored) == [one["content_hash"], two["content_hash"]]
    first_record, second_record = changes(session_factory, "model_card.revise", team.model_id)
    assert (first_record.before, first_record.after) == (
        None,
        {
            "revision": 1,
            "content_hash": one["content_hash"],
            "lifecycle_status": "development",
            "complete": False,
        },
    )
    assert second_record.before == {
        "revision": 1,
        "content_hash": one["content_hash"],
        "lifecycle_status": "development",
    }
    assert second_record.after is not None
    assert second_record.after["revision"] == 2


def test_an_identical_put_makes_no_revision(
    client: TestClient, team: Team, session_factory: sessionmaker[Session]
) -> None:
    first = put(client, team.card, team.engineer, full_card(team)).json()
    # A retry, even one that still names the revision it started from, answers the current one.
    again = put(client, team.card, team.engineer, full_card(team), **{"If-Match": "0"})
    assert again.status_code == 200
    assert again.json() == first
    # Omitting lifecycle_status keeps the current one: the same content as well.
    body = full_card(team)
    body.pop("third_party")
    assert put(client, team.card, team.engineer, body).json()["revision"] == 1
    assert client.get(f"{team.card}/revisions", headers=team.viewer).json()["total"] == 1
    assert len(changes(session_factory, "model_card.revise", team.model_id)) == 1


def test_if_match_stale_is_refused_with_412(client: TestClient, team: Team) -> None:
    one = put(client, team.card, team.engineer, {"business_use": "a"}).json()
    two = put(client, team.card, team.engineer, {"business_use": "b"}, **{"If-Match": "1"})
    assert two.status_code == 200, two.text
    # Revision 1 is no longer current: by number or by hash.
    for stale in ("1", f'"{one["content_hash"]}"'):
        refused = put(
            client, team.card, team.engineer, {"business_use": "c"}, **{"If-Match": stale}
        )
        assert refused.status_code == 412, refused.text
        assert refused.json()["error"] == "precondition_failed"
        assert "revision 2" in refused.json()["message"]
    # The current hash (as an ETag) is accepted.
    etag = client.get(team.card, headers=team.viewer).headers["ETag"]
    ok = put(client, team.card, team.engineer, {"business_use": "c"}, **{"If-Match": etag})
    assert ok.json()["revision"] == 3
    # Nothing written yet: no precondition can hold.
    version = put(client, team.version_card, team.engineer, {"changes": "x"}, **{"If-Match": "*"})
    assert version.status_code == 412


def test_twenty_concurrent_conditional_writes_one_wins(
    client: TestClient, team: Team, session_factory: sessionmaker[Session]
) -> None:
    put(client, team.card, team.engineer, full_card(team, lifecycle_status="production"))
    engineer = Principal(user_id=team.engineer_id, team_roles={team.id: Role.ML_ENGINEER})

    def retire(i: int) -> Callable[[Session], object]:
        data = ModelCardContent.model_validate(
            full_card(team, lifecycle_status="retired", sections={"Retirement": f"note {i}"})
        )
        return lambda s: cards.put_model_card(
            s,
            principal=engineer,
            model_id=team.model_id,
            data=data,
            prediction_retention_days=0,
            if_match="1",
        )

    outcomes = race(session_factory, [retire(i) for i in range(THREADS)])
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) == {"ok", "precondition_failed"}, outcomes
    assert len(changes(session_factory, "model.retire", team.model_id)) == 1
    assert client.get(team.card, headers=team.viewer).json()["revision"] == 2


def test_twenty_concurrent_retirements_one_wins_the_others_409(
    client: TestClient, team: Team, session_factory: sessionmaker[Session]
) -> None:
    put(client, team.card, team.engineer, full_card(team, lifecycle_status="production"))
    engineer = Principal(user_id=team.engineer_id, team_roles={team.id: Role.ML_ENGINEER})

    def retire(i: int) -> Callable[[Session], object]:
        data = ModelCardContent.model_validate(
            full_card(team, lifecycle_status="retired", sections={"Retirement": f"note {i}"})
        )
        return lambda s: cards.put_model_card(
            s, principal=engineer, model_id=team.model_id, data=data, prediction_retention_days=0
        )

    outcomes = race(session_factory, [retire(i) for i in range(THREADS)])
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) == {"ok", "model_retired"}, outcomes
    assert len(changes(session_factory, "model.retire", team.model_id)) == 1
    with unit_of_work(session_factory) as session:
        numbers = session.scalars(
            select(ModelCardRevision.number).where(ModelCardRevision.model_id == team.model_id)
        ).all()
    assert sorted(numbers) == [1, 2]


def race(factory: sessionmaker[Session], calls: list[Callable[[Session], object]]) -> list[str]:
    """Run each call in its own transaction at once; the outcome of each: ok or an error code."""

    def attempt(call: Callable[[Session], object]) -> str:
        try:
            with unit_of_work(factory) as session:
                call(session)
            return "ok"
        except (ConflictError, StaleError) as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(attempt, calls))


# --- bad input ------------------------------------------------------------------------------------


def test_owner_must_be_a_member_of_the_models_team(client: TestClient, team: Team) -> None:
    response = put(client, team.card, team.engineer, full_card(team, owner_id=team.outsider_id))
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["loc"] == "owner_id"
    assert "not a member" in response.json()["message"]


def test_unknown_field_is_named(client: TestClient, team: Team) -> None:
    for url, body in ((team.card, full_card(team)), (team.version_card, {"changes": "x"})):
        response = put(client, url, team.engineer, {**body, "risk_appetite": "low"})
        assert response.status_code == 422, response.text
        assert "risk_appetite" in response.json()["message"]


def test_vendor_flag_needs_a_vendor_name(client: TestClient, team: Team) -> None:
    response = put(client, team.card, team.engineer, full_card(team, third_party=True))
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["loc"] == "vendor_name"
    ok = put(
        client, team.card, team.engineer, full_card(team, third_party=True, vendor_name="Acme")
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["vendor_name"] == "Acme"


def test_eu_high_risk_needs_an_annex_iii_area_and_only_it_has_one(
    client: TestClient, team: Team
) -> None:
    missing = put(client, team.card, team.engineer, full_card(team, annex_iii_area=None))
    assert missing.status_code == 422, missing.text
    assert missing.json()["details"][0]["loc"] == "annex_iii_area"
    extra = put(client, team.card, team.engineer, full_card(team, ai_act_class="minimal"))
    assert extra.status_code == 422
    assert extra.json()["details"][0]["loc"] == "annex_iii_area"
    unknown = put(client, team.card, team.engineer, full_card(team, annex_iii_area="space"))
    assert unknown.status_code == 422
    assert "annex_iii_area" in unknown.json()["message"]


def test_sections_are_bounded(client: TestClient, team: Team) -> None:
    many = {f"s{i}": "x" for i in range(21)}
    assert put(client, team.card, team.engineer, {"sections": many}).status_code == 422
    long = {"Notes": "x" * 20_001}
    assert put(client, team.card, team.engineer, {"sections": long}).status_code == 422


# --- the lifecycle --------------------------------------------------------------------------------


def test_lifecycle_moves_along_its_edges_and_names_both_states_otherwise(
    client: TestClient, team: Team, session_factory: sessionmaker[Session]
) -> None:
    assert put(client, team.card, team.engineer, full_card(team)).json()["lifecycle_status"] == (
        "development"
    )
    skipped = put(client, team.card, team.engineer, full_card(team, lifecycle_status="production"))
    assert skipped.status_code == 409, skipped.text
    message = skipped.json()["message"]
    assert "from development to production" in message
    for status in ("validation", "development", "validation", "approved", "validation"):
        moved = put(client, team.card, team.engineer, full_card(team, lifecycle_status=status))
        assert moved.status_code == 200, moved.text
        assert moved.json()["lifecycle_status"] == status
    for status in ("approved", "production"):
        assert (
            put(
                client, team.card, team.engineer, full_card(team, lifecycle_status=status)
            ).status_code
            == 200
        )
    back = put(client, team.card, team.engineer, full_card(team, lifecycle_status="approved"))
    assert back.status_code == 409
    assert "from production to approved" in back.json()["message"]
    moves = changes(session_factory, "model.lifecycle", team.model_id)
    assert [(m.before, m.after["lifecycle_status"]) for m in moves] == [  # type: ignore[index]
        ({"lifecycle_status": None}, "development"),
        ({"lifecycle_status": "development"}, "validation"),
        ({"lifecycle_status": "validation"}, "development"),
        ({"lifecycle_status": "development"}, "validation"),
        ({"lifecycle_status": "validation"}, "approved"),
        ({"lifecycle_status": "approved"}, "validation"),
        ({"lifecycle_status": "validation"}, "approved"),
        ({"lifecycle_status": "approved"}, "production"),
    ]


def test_retiring_is_audited_and_final(
    client: TestClient, team: Team, session_factory: sessionmaker[Session]
) -> None:
    put(client, team.card, team.engineer, full_card(team))
    put(client, team.version_card, team.engineer, {"changes": "first version"})
    retired = put(client, team.card, team.engineer, full_card(team, lifecycle_status="retired"))
    assert retired.status_code == 200, retired.text
    [record] = changes(session_factory, "model.retire", team.model_id)
    assert record.before == {"lifecycle_status": "development"}
    assert record.after == {"lifecycle_status": "retired", "card_revision": 2}
    assert record.actor_user_id == team.engineer_id
    assert changes(session_factory, "model.lifecycle", team.model_id)[-1].after == {
        "lifecycle_status": "development",
        "card_revision": 1,
    }
    # Retired is final: no way back, no edit of the model's or a version's card.
    back = put(client, team.card, team.engineer, full_card(team, lifecycle_status="development"))
    assert back.status_code == 409
    assert "from retired to development" in back.json()["message"]
    edit = put(
        client,
        team.card,
        team.engineer,
        full_card(team, lifecycle_status="retired", business_use="x"),
    )
    assert (edit.status_code, edit.json()["error"]) == (409, "model_retired")
    version = put(client, team.version_card, team.engineer, {"changes": "edited"})
    assert (version.status_code, version.json()["error"]) == (409, "model_retired")
    # The retry of the retirement itself is still answered.
    again = put(client, team.card, team.engineer, full_card(team, lifecycle_status="retired"))
    assert (again.status_code, again.json()["revision"]) == (200, 2)


def test_a_retired_models_versions_cannot_be_deployed(client: TestClient, team: Team) -> None:
    url = f"/api/v1/models/{team.model_id}/versions/1"
    assert (
        client.put(
            f"{url}/reference", json={"rows": reference_rows(2_000)}, headers=team.engineer
        ).status_code
        == 200
    )
    rows = prediction_rows(400)
    for i, row in enumerate(rows):
        row["timestamp"] = (BASE_TIME + timedelta(minutes=2 * i)).isoformat()
    assert (
        client.post(f"{url}/predictions", json={"rows": rows}, headers=team.engineer).status_code
        == 200
    )
    window = {"start": BASE_TIME.isoformat(), "end": (BASE_TIME + timedelta(days=1)).isoformat()}
    assert (
        client.post(f"{url}/monitoring/runs", json=window, headers=team.engineer).status_code == 201
    )
    body = {"model_id": team.model_id, "version": 1, "environment": "staging"}
    approved = client.post("/api/v1/deployments", json=body, headers=team.engineer)
    assert approved.status_code == 201, approved.text
    assert approved.json()["status"] == "approved"

    put(client, team.card, team.engineer, full_card(team, lifecycle_status="production"))
    put(client, team.card, team.engineer, full_card(team, lifecycle_status="retired"))

    deploy = client.post(
        f"/api/v1/deployments/{approved.json()['id']}/deploy", headers=team.engineer
    )
    assert deploy.status_code == 409, deploy.text
    assert deploy.json()["error"] == "model_retired"
    assert "retired" in deploy.json()["message"]
    request = client.post(
        "/api/v1/deployments", json={**body, "environment": "production"}, headers=team.engineer
    )
    assert request.status_code == 409, request.text
    assert request.json()["error"] == "model_retired"
    assert "lifecycle_status retired" in request.json()["message"]


# --- who may --------------------------------------------------------------------------------------


def test_another_teams_model_is_not_found(client: TestClient, team: Team) -> None:
    put(client, team.card, team.engineer, full_card(team))
    put(client, team.version_card, team.engineer, {"changes": "x"})
    for url in (team.card, team.version_card):
        assert client.get(url, headers=team.stranger).status_code == 404
        assert client.get(f"{url}/revisions", headers=team.stranger).status_code == 404
        assert put(client, url, team.stranger, {}).status_code == 404


def test_a_viewer_reads_but_may_not_write(client: TestClient, team: Team) -> None:
    put(client, team.card, team.engineer, full_card(team))
    assert client.get(team.card, headers=team.viewer).status_code == 200
    for url in (team.card, team.version_card):
        assert put(client, url, team.viewer, {}).status_code == 403


# --- version cards ------------------------------------------------------------------------------


def test_version_card_revisions_and_completeness(
    client: TestClient, team: Team, session_factory: sessionmaker[Session]
) -> None:
    first = put(client, team.version_card, team.engineer, {"changes": "first version"})
    assert first.status_code == 200, first.text
    one = first.json()
    assert (one["revision"], one["version"], one["complete"]) == (1, 1, False)
    assert one["missing"] == [
        "training_data_start",
        "training_data_end",
        "evaluation_summary",
        "known_limitations",
    ]
    backwards = {
        "changes": "first version",
        "training_data_start": "2026-06-01T00:00:00Z",
        "training_data_end": "2026-01-01T00:00:00Z",
    }
    refused = put(client, team.version_card, team.engineer, backwards)
    assert refused.status_code == 422
    assert refused.json()["details"][0]["loc"] == "training_data_end"
    full = {
        "changes": "first version",
        "training_data_start": "2026-01-01T00:00:00Z",
        "training_data_end": "2026-06-01T00:00:00Z",
        "evaluation_summary": "AUC 0.81 on the 2026 holdout.",
        "known_limitations": "Not evaluated on applicants over 80.",
        "sections": {"Fairness": "Disparate impact 0.91 by gender."},
    }
    two = put(client, team.version_card, team.engineer, full, **{"If-Match": "1"}).json()
    assert (two["revision"], two["complete"], two["missing"]) == (2, True, [])
    assert put(client, team.version_card, team.engineer, full).json()["revision"] == 2
    listed = client.get(f"{team.version_card}/revisions", headers=team.viewer).json()
    assert [r["revision"] for r in listed["items"]] == [2, 1]
    assert listed["items"][1] == one
    assert len(changes(session_factory, "version_card.revise", two["version_id"])) == 2
    missing = client.get(f"/api/v1/models/{team.model_id}/versions/9/card", headers=team.viewer)
    assert missing.status_code == 404


def test_card_facts_join_the_model_and_the_version_card(
    client: TestClient, team: Team, session_factory: sessionmaker[Session]
) -> None:
    version_id = client.get(
        f"/api/v1/models/{team.model_id}/versions/1", headers=team.viewer
    ).json()["id"]
    with unit_of_work(session_factory) as session:
        before = cards.card_facts(session, [version_id])[version_id]
    assert (before.lifecycle, before.complete) == (None, False)
    put(client, team.card, team.engineer, full_card(team, lifecycle_status="validation"))
    full = {
        "changes": "first",
        "training_data_start": "2026-01-01T00:00:00Z",
        "training_data_end": "2026-06-01T00:00:00Z",
        "evaluation_summary": "ok",
        "known_limitations": "some",
    }
    put(client, team.version_card, team.engineer, full)
    with unit_of_work(session_factory) as session:
        after = cards.card_facts(session, [version_id])[version_id]
        count = session.scalar(select(func.count()).select_from(ModelCardRevision))
    assert (after.lifecycle, after.complete) == ("validation", True)
    assert count == 1


# --- the SDK ------------------------------------------------------------------------------------


def test_the_sdk_reads_and_writes_cards_with_an_api_key(client: TestClient, team: Team) -> None:
    key = client.post(
        f"/api/v1/teams/{team.id}/api-keys", json={"name": "ci"}, headers=team.engineer
    )
    assert key.status_code == 201, key.text
    sdk = Client(api_key=key.json()["key"], http=client, backoff_seconds=0)
    written = sdk.put_card(team.model_id, full_card(team))
    assert (written["revision"], written["created_by_api_key_id"]) == (1, key.json()["id"])
    assert sdk.get_card(team.model_id) == written
    version = sdk.put_card(team.model_id, {"changes": "first"}, version=1)
    assert sdk.get_card(team.model_id, version=1) == version
    with pytest.raises(DriftGuardAPIError) as stale:
        sdk.put_card(team.model_id, {"changes": "second"}, version=1, if_match=7)
    assert (stale.value.status, stale.value.code) == (412, "precondition_failed")
    assert (
        sdk.put_card(team.model_id, {"changes": "second"}, version=1, if_match=1)["revision"] == 2
    )


def test_the_cli_shows_and_puts_cards(
    client: TestClient, team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = client.post(
        f"/api/v1/teams/{team.id}/api-keys", json={"name": "ci"}, headers=team.engineer
    )

    class Borrowed(Client):
        def close(self) -> None:  # the test's HTTP client outlives each command
            return None

    monkeypatch.setattr(
        card_command,
        "make_client",
        lambda url, api_key: Borrowed(api_key=key.json()["key"], http=client, backoff_seconds=0),
    )
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(full_card(team, sections={})))
    model = str(team.model_id)
    written = CliRunner().invoke(cli, ["card", "put", str(path), "--model", model])
    assert written.exit_code == 0, written.output
    assert written.output.startswith("revision 1 (")
    assert written.output.rstrip().endswith(", complete")
    shown = CliRunner().invoke(cli, ["card", "show", "--model", model])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["intended_use"] == full_card(team)["intended_use"]
    path.write_text(json.dumps({"changes": "first"}))
    draft = CliRunner().invoke(cli, ["card", "put", str(path), "--model", model, "--version", "1"])
    assert "incomplete: training_data_start" in draft.output
    path.write_text(json.dumps({"changes": "second"}))
    stale = CliRunner().invoke(
        cli, ["card", "put", str(path), "--model", model, "--version", "1", "--if-match", "9"]
    )
    assert stale.exit_code == 3
    assert "412 precondition_failed" in stale.output
