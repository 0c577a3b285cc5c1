"""A portfolio simulation answers the same whether models are judged as arrays or one by one."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from driftguard.governance import simulation
from driftguard.governance.schemas import SimulationRequest
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.rules import DEFAULT_POLICY_YAML
from driftguard.rules.document import PolicyDocument

from .conftest import DEMO_GROUP, DEMO_MODELS

FIXED = datetime(2026, 11, 26, 12, tzinfo=UTC)
TIGHT = DEFAULT_POLICY_YAML.replace("priority: 0", "priority: 50").replace(
    "    threshold: 0.25\n    severity: block", "    threshold: 0.05\n    severity: block"
)
SCENARIOS: list[dict[str, Any]] = [
    {"policy": TIGHT, "include_unchanged": True},
    {"environment": "staging", "policy": TIGHT},
    {
        "overrides": [
            {"fact": "alerts.open_critical", "value": 2},
            {"fact": "model.materiality", "value": "high"},
        ],
        "include_unchanged": True,
    },
    {
        "overrides": [
            {"fact": "drift.psi", "subject": "income", "value": 0.6},
            {"fact": "reference.rows", "value": 0},
        ],
        "policy": TIGHT,
    },
]


class Clock(datetime):
    """``datetime`` whose ``now`` stands still: both runs must see the same staleness."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Clock:
        return cls.fromtimestamp(FIXED.timestamp(), tz)


def run(factory: sessionmaker[Session], body: dict[str, Any]) -> dict[str, Any]:
    auditor = Principal(user_id=None, platform_role=Role.AUDITOR)
    with factory() as session:
        result = simulation.simulate(
            session,
            principal=auditor,
            data=SimulationRequest.model_validate(body),
            environments=["staging", "production"],
        )
    return result.model_dump()


@DEMO_GROUP
def test_both_engines_give_the_same_simulation(
    demo_portfolio: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(simulation, "datetime", Clock)
    changed = 0
    for body in SCENARIOS:
        arrays = run(demo_portfolio, body)
        with monkeypatch.context() as one_by_one:

            def declined(document: PolicyDocument) -> bool:
                return False

            one_by_one.setattr(simulation, "supports", declined)
            assert run(demo_portfolio, body) == arrays, body
        assert arrays["summary"]["models"] == DEMO_MODELS
        changed += arrays["summary"]["changed"]
    assert changed > 0  # the scenarios move verdicts: the comparison is not between no-ops
