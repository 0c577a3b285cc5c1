"""The evidence pack of a version, downloaded from its model page (the API's pack, rendered by
the same code: ``evidence.render``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response

from driftguard.evidence import render
from driftguard.evidence.service import build_pack, limits_of
from driftguard.http.deps import DbSession, SettingsDep
from driftguard.http.params import ObjectId, VersionNumber
from driftguard.identity.permissions import Permission
from driftguard.web.routing import web_router
from driftguard.web.security import SignedIn, page_permission

router = web_router()
Reader = Annotated[SignedIn, page_permission(Permission.MODELS_READ)]


@router.get("/models/{model_id}/versions/{number}/evidence.{pack_format}")
def evidence_download(
    model_id: ObjectId,
    number: VersionNumber,
    pack_format: Annotated[render.PackFormat, Path()],
    session: DbSession,
    settings: SettingsDep,
    user: Reader,
) -> Response:
    pack = build_pack(
        session,
        principal=user.principal,
        model_id=model_id,
        number=number,
        limits=limits_of(settings),
        environments=settings.deployment_environments,
    )
    download = render.rendered(pack, pack_format)
    return Response(
        download.body,
        media_type=download.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{download.filename}"',
            "Cache-Control": "no-store",
        },
    )
