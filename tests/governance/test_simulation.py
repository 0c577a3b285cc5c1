from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from driftguard.db.base import Base
from driftguard.db.session import build_session_factory, sandbox
from driftguard.governance import simulation
from driftguard.governance.schemas import SimulationRequest
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.rules import DEFAULT_POLICY_YAML
from driftguard.tables import import_all_tables

from .conftest import Org, monitor, request

TIGHT = DEFAULT_POLICY_YAML.replace("priority: 0", "priority: 50").replace(
    "    threshold: 0.25\n    severity: block", "    threshold: 0.0001\n    severity: block"
)


def simulate(client: TestClient, org: Org, **body: Any) -> Any:
    return client.post("/api/v1/simulations", json=body, headers=org.approvers[0])


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    import_all_tables()
    with engine.connect() as connection:
        return {
            t.name: sorted(map(tuple, connection.execute(select(t)).all()), key=repr)
            for t in Base.metadata.sorted_tables
        }


def test_a_draft_that_tightens_drift_blocks_models_it_would_block(
    client: TestClient, org: Org
) -> None:
    monitor(client, org)
    result = simulate(client, org, policy=TIGHT, include_unchanged=True)
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["draft_policy"]["name"] == "draft"
    (model,) = body["models"]
    assert (model["current_outcome"], model["scenario_outcome"]) == ("pending_approval", "blocked")
    assert (model["current_policy"], model["scenario_policy"]) == ("driftguard-default", "draft")
    assert any(b.startswith("feature_drift: drift.psi[") for b in model["scenario_blocking"])
    assert body["summary"]["newly_blocked"] == 1
    assert body["summary"]["current_outcomes"] == {"pending_approval": 1}


def test_hypothetical_facts_and_materiality(client: TestClient, org: Org) -> None:
    monitor(client, org)
    psi = simulate(
        client, org, overrides=[{"fact": "drift.psi", "subject": "income", "value": 0.4}]
    )
    (model,) = psi.json()["models"]
    assert model["scenario_outcome"] == "blocked"
    assert model["scenario_blocking"] == ["feature_drift: drift.psi[income]"]
    assert model["scenario_mri"] > model["current_mri"]
    tier = simulate(
        client,
        org,
        overrides=[
            {"fact": "model.materiality", "value": "high"},
            {"fact": "model.criticality", "value": "high"},
        ],
        include_unchanged=True,
    ).json()["models"][0]
    assert tier["scenario_mri"] == pytest.approx(tier["current_mri"] / 0.8)  # tier 2 → tier 1
    scoped = simulate(
        client,
        org,
        scope={"team_id": org.team + 1000},
        overrides=[{"fact": "alerts.open_critical", "value": 3}],
    )
    assert scoped.json()["summary"]["models"] == 0


def test_bad_simulations_name_the_problem(client: TestClient, org: Org) -> None:
    monitor(client, org)

    def problems(**body: Any) -> list[str]:
        response = simulate(client, org, **body)
        assert response.status_code == 422, response.text
        return [d["loc"] for d in response.json()["details"]]

    unknown_feature = [{"fact": "drift.psi", "subject": "salary", "value": 0.4}]
    assert problems(overrides=unknown_feature) == ["overrides.0.subject"]
    assert problems(overrides=[{"fact": "drift.psy", "subject": "income", "value": 1}]) == [
        "overrides.0.fact"
    ]
    assert problems(overrides=[{"fact": "model.materiality", "value": 3}]) == ["overrides.0.value"]
    assert problems(overrides=[{"fact": "alerts.open", "subject": "income", "value": 1}]) == [
        "overrides.0.subject"
    ]
    # The MRI is computed from the other facts: overriding it would change nothing.
    assert problems(overrides=[{"fact": "mri.score", "value": 1}]) == ["overrides.0.fact"]
    assert problems(
        policy="rules: [{name: x, fact: nope, operator: '<', threshold: 1, severity: block}]"
    ) == ["policy.rules.0.fact"]
    assert problems() == ["body"]
    assert problems(overrides=unknown_feature[:0], policy=TIGHT, environment="moon") == [
        "environment"
    ]
    viewer = client.post("/api/v1/simulations", json={"policy": TIGHT}, headers=org.viewer)
    assert viewer.status_code == 403


def test_replay_re_judges_stored_decisions_and_windows(client: TestClient, org: Org) -> None:
    monitor(client, org)
    pending = request(client, org)
    replay = simulate(client, org, policy=TIGHT, replay_days=365).json()["replay"]
    assert replay["decisions"] == {
        "examined": 1,
        "newly_blocked": 1,
        "newly_allowed": 0,
        "changed_deployment_ids": [pending["id"]],
    }
    assert replay["monitoring"]["runs_examined"] >= 0


def test_the_sandbox_writes_nothing(engine: Engine, client: TestClient, org: Org) -> None:
    monitor(client, org)
    request(client, org)
    before = dump(engine)
    principal = Principal(user_id=None, platform_role=Role.ADMIN)
    data = SimulationRequest.model_validate(
        {
            "policy": TIGHT,
            "replay_days": 30,
            "include_unchanged": True,
            "overrides": [{"fact": "drift.psi", "subject": "income", "value": 0.9}],
        }
    )
    with sandbox(build_session_factory(engine, read_only=True)) as session:
        result = simulation.simulate(
            session, principal=principal, data=data, environments=["staging", "production"]
        )
        assert result.summary.models == 1
    assert dump(engine) == before
    # Through the API, the only new row is the request's own audit record.
    response = simulate(client, org, policy=TIGHT, replay_days=30)
    assert response.status_code == 200
    after = dump(engine)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"audit_records"}
    assert len(after["audit_records"]) == len(before["audit_records"]) + 1


def test_the_database_refuses_writes_inside_the_sandbox(engine: Engine) -> None:
    factory = build_session_factory(engine, read_only=True)
    with pytest.raises(DBAPIError, match=r"(?i)read.?only"), sandbox(factory) as session:
        session.execute(text("CREATE TABLE sandbox_probe (x INTEGER)"))
    with sandbox(factory) as session:  # and the pooled connection is not left read-only after
        assert session.execute(text("SELECT 1")).scalar() == 1
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE sandbox_probe (x INTEGER)"))
        connection.execute(text("DROP TABLE sandbox_probe"))


def test_a_running_simulation_does_not_hold_writers_back(
    client: TestClient, org: Org, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request's own session is read-only too: while the sandbox computes, another
    connection can still write (on SQLite a held write lock would make it wait, then fail)."""
    monitor(client, org)
    seen: list[int] = []

    def write_meanwhile(*args: Any, **kwargs: Any) -> Any:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as other:
            other.execute(
                text("PRAGMA busy_timeout = 200" if engine.dialect.name == "sqlite" else "SELECT 1")
            )
            seen.append(other.execute(text("UPDATE teams SET description = description")).rowcount)
        return original(*args, **kwargs)

    original = simulation._check_overrides
    monkeypatch.setattr(simulation, "_check_overrides", write_meanwhile)
    response = simulate(client, org, policy=TIGHT)
    assert response.status_code == 200, response.text
    assert len(seen) == 1
    assert seen[0] > 0  # the teams were updated while the simulation ran


# --- lifecycle facts in what-if scenarios (issue #18 part 4) ------------------------------------


@pytest.mark.parametrize("one_by_one", [False, True], ids=["portfolio", "one_by_one"])
def test_what_if_on_lifecycle_facts(client: TestClient, org: Org, one_by_one: bool) -> None:
    monitor(client, org)  # a tier-2 model without a card: the default policy waits for approvals
    # A per-feature override (that changes nothing) sends the model to the per-version engine.
    extra = [{"fact": "drift.psi", "subject": "income", "value": 0.01}] if one_by_one else []

    def scenario(*overrides: tuple[str, float | str]) -> tuple[str, list[str]]:
        body = [{"fact": fact, "value": value} for fact, value in overrides]
        response = simulate(client, org, overrides=[*body, *extra], include_unchanged=True)
        assert response.status_code == 200, response.text
        (model,) = response.json()["models"]
        assert model["current_outcome"] == "pending_approval"
        return model["scenario_outcome"], model["scenario_blocking"]

    unvalidated = (
        "blocked",
        ["independent_validation: validation.status", "model_card: card.complete"],
    )
    assert scenario(("model.eu_high_risk", 1)) == unvalidated
    assert scenario(("model.materiality", "high"), ("model.criticality", "high")) == unvalidated
    ready = (("model.eu_high_risk", 1), ("validation.status", 1), ("card.complete", 1))
    assert scenario(*ready) == ("pending_approval", [])
    assert scenario(*ready, ("findings.open_critical", 2)) == (
        "blocked",
        ["critical_findings: findings.open_critical"],
    )
    assert scenario(*ready[:2], ("validation.status", 0), ready[2]) == (
        "blocked",
        ["independent_validation: validation.status"],
    )
