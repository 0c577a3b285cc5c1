"""Our own stylesheet, served by DriftGuard itself (the UI runs air-gapped)."""

from __future__ import annotations

from fastapi import Request, Response

from driftguard.errors import NotFoundError
from driftguard.http.guards import public
from driftguard.web.routing import web_router
from driftguard.web.templating import Asset

router = web_router()


@router.get("/static/{name}", dependencies=[public()])
async def asset(name: str, request: Request) -> Response:
    """A static file, with a long-lived cache and its ETag (304 when the browser has it)."""
    assets: dict[str, Asset] = request.app.state.assets
    found = assets.get(name)
    if found is None:
        raise NotFoundError("no such file")
    etag = f'"{found.etag}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=86400",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.content_type, headers=headers)
