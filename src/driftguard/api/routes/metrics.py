from __future__ import annotations

from fastapi import APIRouter, Request, Response

from driftguard.api.deps import metrics_token
from driftguard.telemetry import CONTENT_TYPE, Telemetry

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    dependencies=[metrics_token()],
    summary="Prometheus metrics (Authorization: Bearer DRIFTGUARD_METRICS_TOKEN)",
    response_class=Response,
)
def metrics(request: Request) -> Response:
    """The Prometheus metrics of this process, in the text exposition format."""
    # Not async: rendering reads the dead-letter count from the database, in the threadpool.
    telemetry: Telemetry = request.app.state.telemetry
    return Response(telemetry.render(), media_type=CONTENT_TYPE)
