from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from driftguard.api.readiness import Readiness
from driftguard.http.guards import public

router = APIRouter(tags=["health"])


@router.get("/livez", dependencies=[public()], summary="The process is alive")
def livez() -> dict[str, str]:
    """Liveness: the process answers. Checks nothing else, so a slow database never restarts it."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    dependencies=[public()],
    summary="The service can serve traffic (database reachable)",
    responses={503: {"description": "a dependency is down"}},
)
async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers; within ``api/readiness.py``'s bound even when the
    database does not."""
    readiness: Readiness = request.app.state.readiness
    checks = {"database": "ok" if await readiness.database_ready() else "unavailable"}
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers=None if ready else {"Retry-After": "5"},
    )
