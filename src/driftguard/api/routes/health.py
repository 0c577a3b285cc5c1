from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from driftguard.api.deps import public

router = APIRouter(tags=["health"])


@router.get("/livez", dependencies=[public()], summary="The process is alive")
def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    dependencies=[public()],
    summary="The service can serve traffic (database reachable)",
    responses={503: {"description": "a dependency is down"}},
)
def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError:
        checks["database"] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers=None if ready else {"Retry-After": "5"},
    )
