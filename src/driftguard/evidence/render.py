"""An evidence pack as JSON, as one self-contained HTML file, and as PDF (the same HTML rendered
by WeasyPrint, which needs Debian's pango: ``libpango-1.0-0 libpangoft2-1.0-0``).

The HTML loads nothing: its style sheet is inline, its charts inline SVG drawn on the server from
the sections' JSON (:mod:`driftguard.charts`), and it has no script, image, font or link to
another file, so it opens the same on an examiner's laptop years later.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Final, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from driftguard.charts import BarChart, LineChart, bar_chart, line_chart
from driftguard.evidence.service import EvidencePack

# The web UI's series colours (web/static/app.css), written into each SVG element: the PDF
# renderer draws inline SVG from its attributes.
PALETTE: Final = (
    "#0b5cad",
    "#c2410c",
    "#15803d",
    "#7e22ce",
    "#be185d",
    "#0e7490",
    "#4d7c0f",
    "#57534e",
)
MAX_POINTS_MARKED = 60  # beyond this many windows a line is drawn without a dot per point
MAX_LINES = 8  # the most features (by largest PSI) drawn in the drift chart
# The page (HTML, PDF) lists the newest of long lists; the JSON form holds every one the pack
# holds, and the page says so. A PDF renderer lays tables out at about 40 rows a second.
PAGE_AUDIT_RECORDS = 100
PAGE_DEPLOYMENTS_IN_DETAIL = 5


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _number(value: object, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:,.{digits}f}"
    return str(value)


def _pretty(value: object) -> str:
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)


# --- charts per section, drawn from the section's JSON ----------------------------------------


def _risk_charts(data: Mapping[str, Any]) -> dict[str, LineChart | BarChart | None]:
    history = data["history"]
    line = (
        line_chart(
            "MRI over time",
            [("MRI", [(_moment(s["computed_at"]), s["score"]) for s in history])],
            y_label="MRI",
            y_max=100.0,
        )
        if history
        else None
    )
    bars = bar_chart(
        "MRI contribution by component",
        [
            (c["name"], c["contribution"], f"value {c['value']:.2f}, weight {c['weight']:.2f}")
            for c in data["current"]["components"]
        ],
    )
    return {"history": line, "contributions": bars}


def _monitoring_charts(data: Mapping[str, Any]) -> dict[str, LineChart | None]:
    drift: dict[str, list[tuple[datetime, float | None]]] = {}
    for point in data["drift"]:
        for feature, psi in point["psi"].items():
            drift.setdefault(feature, []).append((_moment(point["window_end"]), psi))
    worst = sorted(drift, key=lambda f: -max((v or 0.0 for _, v in drift[f]), default=0.0))
    fairness: dict[str, list[tuple[datetime, float | None]]] = {}
    for point in data["fairness"]:
        for attribute, summary in point["attributes"].items():
            fairness.setdefault(attribute, []).append(
                (_moment(point["window_end"]), summary["disparate_impact_ratio"])
            )
    performance: dict[str, list[tuple[datetime, float | None]]] = {}
    for point in data["performance"]:
        for metric, value in point["metrics"].items():
            performance.setdefault(metric, []).append((_moment(point["window_end"]), value))
    return {
        "drift": line_chart(
            "Drift (PSI) per feature",
            [(f, drift[f]) for f in worst[:MAX_LINES]],
            y_label="PSI",
            y_max=0.25,
        )
        if drift
        else None,
        "fairness": line_chart(
            "Disparate impact ratio per sensitive attribute",
            list(fairness.items()),
            y_label="ratio",
            y_max=1.0,
        )
        if fairness
        else None,
        "performance": line_chart(
            "Performance over time", list(performance.items()), y_label="metric"
        )
        if performance
        else None,
    }


ChartView = Callable[[Mapping[str, Any]], Mapping[str, LineChart | BarChart | None]]
# Per section name, the charts its template draws (a section without charts needs no entry).
CHART_VIEWS: dict[str, ChartView] = {
    "risk": _risk_charts,
    "monitoring": _monitoring_charts,
}


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("driftguard.evidence", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.filters["number"] = _number
    environment.filters["pretty"] = _pretty
    environment.globals["palette"] = PALETTE
    environment.globals["max_points_marked"] = MAX_POINTS_MARKED
    environment.globals["page_audit_records"] = PAGE_AUDIT_RECORDS
    environment.globals["page_deployments_in_detail"] = PAGE_DEPLOYMENTS_IN_DETAIL
    return environment


def _section_template(names: Sequence[str]) -> dict[str, str]:
    known = set(_environment().list_templates(filter_func=lambda n: n.startswith("sections/")))
    return {
        n: f"sections/{n}.html" if f"sections/{n}.html" in known else "sections/_json.html"
        for n in names
    }


def to_html(pack: EvidencePack) -> str:
    names = [s.name for s in pack.sections]
    return (
        _environment()
        .get_template("pack.html")
        .render(
            pack=pack,
            manifest=pack.manifest,
            templates=_section_template(names),
            charts={
                s.name: CHART_VIEWS[s.name](s.data) for s in pack.sections if s.name in CHART_VIEWS
            },
        )
    )


def _no_fetch(url: str, *args: object, **kwargs: object) -> dict[str, object]:
    """The renderer fetches nothing: a pack that names another file is a bug, not a download."""
    raise ValueError(f"the evidence pack loads no external resource ({url[:80]})")


def to_pdf(html: str) -> bytes:
    # Imported here: loading WeasyPrint loads pango, which only the PDF needs.
    from weasyprint import HTML

    pdf: bytes = HTML(string=html, base_url=None, url_fetcher=_no_fetch).write_pdf()
    return pdf


def to_json(pack: EvidencePack) -> bytes:
    return json.dumps(pack.document(), indent=1, ensure_ascii=False, allow_nan=False).encode()


PackFormat = Literal["html", "pdf", "json"]
MEDIA_TYPES: Final[Mapping[str, str]] = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A pack in one format, as a download: its bytes, media type and file name."""

    body: bytes
    media_type: str
    filename: str


def rendered(pack: EvidencePack, pack_format: PackFormat) -> Rendered:
    if pack_format == "json":
        body = to_json(pack)
    elif pack_format == "html":
        body = to_html(pack).encode()
    else:
        body = to_pdf(to_html(pack))
    subject = pack.manifest.subject
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", subject.model_name).strip("-") or "model"
    stamp = pack.manifest.exported_at.strftime("%Y%m%dT%H%M%SZ")
    filename = f"evidence-{name}-v{subject.version}-{stamp}.{pack_format}"
    return Rendered(body, MEDIA_TYPES[pack_format], filename)
