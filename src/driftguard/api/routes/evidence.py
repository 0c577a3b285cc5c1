"""The evidence pack of a model version (JSON, HTML, PDF) and a team's CSV exports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from driftguard.api.deps import require
from driftguard.db.session import unit_of_work
from driftguard.evidence import exports, render
from driftguard.evidence.service import build_pack, limits_of
from driftguard.http.deps import DbSession, SettingsDep
from driftguard.http.params import ObjectId, VersionNumber
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal

router = APIRouter(tags=["evidence"])
Reader = Annotated[Principal, require(Permission.MODELS_READ)]


@router.get(
    "/models/{model_id}/versions/{number}/evidence",
    response_class=Response,
    responses={200: {"content": {t: {} for t in render.MEDIA_TYPES.values()}}},
)
def export_evidence(
    model_id: ObjectId,
    number: VersionNumber,
    session: DbSession,
    settings: SettingsDep,
    principal: Reader,
    pack_format: Annotated[render.PackFormat, Query(alias="format")] = "html",
) -> Response:
    """The version's evidence pack: the model and version, the policy in force with its hash,
    the MRI with its breakdown and history, drift, fairness and performance over time (charts),
    deployments with their decisions, approvals and history, the version's audit records (only
    for callers with ``audit:read``; otherwise the manifest lists the section as withheld) and
    a manifest with each section's SHA-256 and the audit chain head at export. ``json`` holds
    the sections and the manifest, so each hash can be recomputed; ``html`` is one
    self-contained file; ``pdf`` is that HTML rendered."""
    pack = build_pack(
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        limits=limits_of(settings),
        environments=settings.deployment_environments,
    )
    download = render.rendered(pack, pack_format)
    return Response(
        download.body,
        media_type=download.media_type,
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
    )


ExportKindPath = Annotated[exports.ExportKind, Path(description="inventory, alerts or audit")]


@router.get(
    "/teams/{team_id}/exports/{kind}.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_team_csv(
    team_id: ObjectId,
    kind: ExportKindPath,
    request: Request,
    session: DbSession,
    principal: Reader,
) -> StreamingResponse:
    """The team's inventory (models, versions, stage, tier, MRI band), alerts, or (with
    ``audit:read``) the audit records of its objects, as CSV streamed in batches. Text cells
    that a spreadsheet would run as formulas are prefixed with ``'``."""
    await run_in_threadpool(
        exports.authorize, session, principal=principal, team_id=team_id, kind=kind
    )
    factory: sessionmaker[Session] = request.app.state.read_session_factory

    def chunks() -> Iterator[str]:
        # Its own read transaction: the request's has committed before the body streams.
        with unit_of_work(factory) as reader:
            yield from exports.export_csv(reader, team_id=team_id, kind=kind)

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="team-{team_id}-{kind}.csv"'},
    )
