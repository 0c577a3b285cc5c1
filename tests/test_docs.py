"""The runbooks stay true to the code: every setting is documented, and every runbook link (from
the alert rules and between the pages) points to a page and heading that exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from driftguard.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUNBOOKS = (
    "deployment.md",
    "configuration.md",
    "incident-response.md",
    "disaster-recovery.md",
    "troubleshooting.md",
    "monitoring.md",
)


def _anchor(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_anchor(m) for m in re.findall(r"^#{1,6} (.+)$", page.read_text(), re.MULTILINE)}


def _resolves(link: str, source: Path) -> bool:
    target, _, anchor = link.partition("#")
    page = (source.parent / target).resolve() if target else source
    return page.exists() and (not anchor or anchor in _anchors(page))


def test_every_setting_is_in_the_configuration_reference() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [
        f"DRIFTGUARD_{name.upper()}"
        for name in Settings.model_fields
        if f"`DRIFTGUARD_{name.upper()}`" not in text
    ]
    assert missing == []


def test_every_alert_links_to_an_existing_runbook_section() -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())
    links = [rule["annotations"]["runbook"] for g in rules["groups"] for rule in g["rules"]]
    assert len(links) >= 5
    broken = [link for link in links if not _resolves(link.removeprefix("docs/"), DOCS / "x.md")]
    assert broken == []


def test_links_between_runbooks_resolve() -> None:
    broken = []
    for name in RUNBOOKS:
        page = DOCS / name
        for link in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if not link.startswith(("http://", "https://")) and not _resolves(link, page):
                broken.append(f"{name}: {link}")
    assert broken == []
