"""Jinja2 templates (autoescape always on), the page renderer and the static assets."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

# No script may run, inline or loaded; styles only from our own stylesheet.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'none'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
ASSET_TYPES = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets() -> dict[str, Asset]:
    """The files of ``web/static``, read once when the app is built."""
    assets: dict[str, Asset] = {}
    for entry in resources.files("driftguard.web").joinpath("static").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in ASSET_TYPES:
            body = entry.read_bytes()
            etag = hashlib.sha256(body).hexdigest()[:16]
            assets[entry.name] = Asset(body=body, content_type=ASSET_TYPES[suffix], etag=etag)
    return assets


def when(moment: datetime | None) -> str:
    """A moment as ``YYYY-MM-DD HH:MM UTC`` (a dash for none), for templates."""
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def day(moment: datetime | None) -> str:
    """A moment's date as ``YYYY-MM-DD`` (a dash for none), for templates."""
    return "—" if moment is None else moment.strftime("%Y-%m-%d")


def number(value: float | int | None, digits: int = 3) -> str:
    """A number for display: integers with separators, floats with ``digits`` decimals
    (significant digits when tiny), a dash for none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:,.{digits}f}"


def pretty_json(value: object) -> str:
    """Plain text (escaped by the template like any other), not markup."""
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False, default=str)


def build_templates(assets: Mapping[str, Asset]) -> Environment:
    """The Jinja2 environment of the pages: autoescaped, strict about undefined names, with the
    display filters and ``asset()`` URLs that carry each file's ETag."""
    environment = Environment(
        loader=PackageLoader("driftguard.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.filters.update(when=when, day=day, number=number, pretty_json=pretty_json)
    environment.globals["asset"] = lambda name: f"/static/{name}?v={assets[name].etag}"
    return environment


def render(
    request: Request, name: str, context: Mapping[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """A template rendered as an HTML response with the pages' security headers."""
    environment: Environment = request.app.state.templates
    html = environment.get_template(name).render(
        {"path": request.url.path, "user": None, **context}
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
