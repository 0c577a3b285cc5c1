"""The simulation sandbox: a draft policy or hypothetical facts, judged with zero writes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from driftguard.api.deps import require
from driftguard.governance import simulation
from driftguard.governance.schemas import Simulation, SimulationRequest
from driftguard.http.deps import SandboxSession, SettingsDep
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal

router = APIRouter(prefix="/simulations", tags=["simulations"])


@router.post("")
def simulate(
    body: SimulationRequest,
    session: SandboxSession,
    settings: SettingsDep,
    principal: Annotated[Principal, require(Permission.SIMULATIONS_RUN)],
) -> Simulation:
    """Per model in scope, the outcome and MRI under the current policy and under the scenario
    (the draft activated, the overrides applied), a summary of what changes, and optionally a
    replay of the last ``replay_days`` of decisions and monitoring windows. Writes nothing: the
    transaction is read-only in the database and rolled back."""
    return simulation.simulate(
        session, principal=principal, data=body, environments=settings.deployment_environments
    )
