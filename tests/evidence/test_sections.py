"""The pack's builder: bounded sections that state their totals, and the section registry."""

from __future__ import annotations

from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.evidence.manifest import digest, mismatches
from driftguard.evidence.render import to_html
from driftguard.evidence.sections import SECTIONS, Limits, Scope, SectionSpec
from driftguard.evidence.service import build_pack
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal

from .conftest import Org

AUDITOR = Principal(user_id=None, platform_role=Role.AUDITOR)


def test_long_histories_are_bounded_and_state_their_totals(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    limits = Limits(audit_records=3, reports_per_kind=1, risk_scores=1, deployments=1)
    with unit_of_work(session_factory) as session:
        pack = build_pack(
            session,
            principal=AUDITOR,
            model_id=org.model_id,
            number=1,
            limits=limits,
            environments=["production"],
        )
    sections = {s.name: s.data for s in pack.sections}
    audit = sections["audit"]
    assert (len(audit["records"]), audit["limit"]) == (3, 3)
    assert audit["total"] > 3
    seqs = [r["seq"] for r in audit["records"]]
    assert seqs == sorted(seqs, reverse=True)  # the newest
    monitoring = sections["monitoring"]
    assert len(monitoring["drift"]) == 1
    assert monitoring["drift_series"] == {"total": 2, "limit": 1}
    assert monitoring["drift"][0]["window_start"].startswith("2026-11-02")  # the newest window
    # Two monitoring runs and the deployment request each scored the version.
    assert (len(sections["risk"]["history"]), sections["risk"]["history_total"]) == (1, 3)
    assert sections["deployments"]["total"] == len(sections["deployments"]["deployments"]) == 1
    assert pack.manifest.exporter.user_id is None
    assert mismatches(pack.document()) == []


class _Note(BaseModel):
    text: str


def test_a_section_is_one_builder_added_to_the_registry(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    def note(scope: Scope) -> _Note:
        return _Note(text=f"version {scope.version.number} of {scope.model.name}")

    specs = (*SECTIONS, SectionSpec("note", "A note", note))
    with unit_of_work(session_factory) as session:
        pack = build_pack(
            session,
            principal=AUDITOR,
            model_id=org.model_id,
            number=1,
            limits=Limits(),
            environments=[],
            specs=specs,
        )
    (entry,) = [s for s in pack.manifest.sections if s.name == "note"]
    assert entry.sha256 == digest({"text": f"version 1 of {pack.manifest.subject.model_name}"})
    html = to_html(pack)  # no template of its own: the page shows its JSON
    assert '<section id="section-note">' in html
    assert "&#34;text&#34;: &#34;version 1 of" in html or "&quot;text&quot;" in html
