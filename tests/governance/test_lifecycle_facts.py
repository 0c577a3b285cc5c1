"""The lifecycle's policy facts (cards, validations, findings) of many versions: their values,
read by id and table by table alike, in a fixed number of statements."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.governance import facts
from driftguard.governance.facts import Subject
from driftguard.lifecycle.orm import (
    Finding,
    ModelCard,
    ModelCardRevision,
    Validation,
    VersionCard,
)
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.rules.facts import LIFECYCLE_CODES, VALIDATION_STATUS_CODES
from support.registry import create_model, create_version

from .conftest import Org

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
TODAY = NOW.date()
LIFECYCLE = (
    "validation.status",
    "findings.open_high",
    "findings.open_critical",
    "findings.overdue",
    "card.complete",
    "model.lifecycle",
    "model.eu_high_risk",
)


def _version_ids(factory: sessionmaker[Session], model_id: int) -> dict[int, int]:
    with unit_of_work(factory) as session:
        rows = session.execute(
            select(ModelVersion.number, ModelVersion.id).where(ModelVersion.model_id == model_id)
        ).all()
    return {int(number): int(version_id) for number, version_id in rows}


def _card(session: Session, team: int, model_id: int, *contents: tuple[str, str, bool]) -> None:
    """A model card with one revision per ``(lifecycle status, AI Act class, complete)``."""
    for number, (status, ai_act_class, _) in enumerate(contents, start=1):
        session.add(
            ModelCardRevision(
                model_id=model_id,
                number=number,
                content_hash=f"{number:064d}",
                content={"ai_act_class": ai_act_class, "lifecycle_status": status},
                lifecycle_status=status,
            )
        )
    status, _, complete = contents[-1]
    session.add(
        ModelCard(
            model_id=model_id,
            team_id=team,
            revision=len(contents),
            content_hash=f"{len(contents):064d}",
            lifecycle_status=status,
            complete=complete,
        )
    )


def _validation(session: Session, team: int, model_id: int, version_id: int, status: str) -> int:
    validation = Validation(
        team_id=team, model_id=model_id, version_id=version_id, status=status, scope="s", method="m"
    )
    session.add(validation)
    session.flush()
    return validation.id


def _finding(
    session: Session, validation: int, team: int, model_id: int, version_id: int, **fields: object
) -> None:
    values = {"title": "t", "severity": "high", "due_date": TODAY, "status": "open", **fields}
    session.add(
        Finding(
            team_id=team,
            model_id=model_id,
            version_id=version_id,
            validation_id=validation,
            **values,
        )
    )


@pytest.fixture
def portfolio(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> dict[str, int]:
    """Three models: A (three versions, a complete high-risk card in production), B (no card),
    C (an incomplete card whose newest revision is no longer high-risk)."""
    team = org.team
    a = org.model_id
    create_version(client, org.engineer, a)
    create_version(client, org.engineer, a)
    b = create_model(client, org.engineer, team)["id"]
    create_version(client, org.engineer, b)
    c = create_model(client, org.engineer, team)["id"]
    create_version(client, org.engineer, c)
    av, bv, cv = (_version_ids(session_factory, m) for m in (a, b, c))
    with unit_of_work(session_factory) as session:
        _card(session, team, a, ("development", "high", False), ("production", "high", True))
        _card(session, team, c, ("validation", "high", True), ("development", "minimal", False))
        session.add(
            VersionCard(
                version_id=av[1], model_id=a, revision=1, content_hash="x" * 64, complete=True
            )
        )
        session.add(
            VersionCard(
                version_id=av[2], model_id=a, revision=1, content_hash="y" * 64, complete=False
            )
        )
        session.add(
            VersionCard(
                version_id=cv[1], model_id=c, revision=1, content_hash="z" * 64, complete=True
            )
        )
        # A1: approved, then a new validation still open: the decided one counts.
        approved = _validation(session, team, a, av[1], "approved")
        _validation(session, team, a, av[1], "open")
        _finding(session, approved, team, a, av[1], severity="high")
        _finding(
            session,
            approved,
            team,
            a,
            av[1],
            severity="critical",
            status="remediation_submitted",
            due_date=TODAY - timedelta(days=1),
        )
        _finding(
            session,
            approved,
            team,
            a,
            av[1],
            severity="critical",
            status="closed",
            due_date=date(2026, 1, 1),
        )
        _finding(session, approved, team, a, av[1], severity="low", due_date=date(2026, 1, 1))
        # A2: approved, then rejected.
        _validation(session, team, a, av[2], "approved")
        rejected = _validation(session, team, a, av[2], "rejected")
        _finding(session, rejected, team, a, av[2], severity="critical")
        _validation(session, team, c, cv[1], "approved_with_conditions")
    return {"a1": av[1], "a2": av[2], "a3": av[3], "b1": bv[1], "c1": cv[1]}


def _subjects(session: Session) -> list[Subject]:
    rows = session.execute(
        select(RegisteredModel, ModelVersion)
        .join(ModelVersion, ModelVersion.model_id == RegisteredModel.id)
        .order_by(ModelVersion.id)
    ).all()
    return [Subject.of(model, version) for model, version in rows]


def _lifecycle(found: dict[int, facts.Facts], version_id: int) -> dict[str, float | None]:
    return {fact: found[version_id].value(fact) for fact in LIFECYCLE}


def test_lifecycle_facts_of_many_versions(
    portfolio: dict[str, int],
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    approved, conditions, rejected = (
        VALIDATION_STATUS_CODES[s] for s in ("approved", "approved_with_conditions", "rejected")
    )
    expected = {
        "a1": (approved, 1, 1, 2, 1, LIFECYCLE_CODES["production"], 1),
        "a2": (rejected, 0, 1, 0, 0, LIFECYCLE_CODES["production"], 1),
        "a3": (None, 0, 0, 0, 0, LIFECYCLE_CODES["production"], 1),
        "b1": (None, 0, 0, 0, 0, None, 0),
        "c1": (conditions, 0, 0, 0, 0, LIFECYCLE_CODES["development"], 0),
    }
    with session_factory() as session:
        subjects = _subjects(session)
        statements: list[str] = []
        event.listen(
            session.connection(), "before_cursor_execute", lambda *a: statements.append(a[2])
        )
        by_id = facts.gather(session, subjects, now=NOW)
        assert len(statements) == 1
        monkeypatch.setattr(facts, "READ_BY_ID_LIMIT", 0)
        statements.clear()
        by_table = facts.gather(session, subjects, now=NOW)
        many = len(statements)
        statements.clear()
        facts.gather(session, subjects[:1], now=NOW)
        assert len(statements) == many  # a fixed number, whatever the number of versions
        columns = [(fact, True) for fact in LIFECYCLE]
        portfolio_table = facts.gather_portfolio(session, subjects, now=NOW, reads=columns).table

    rows = {s.version_id: row for row, s in enumerate(subjects)}
    for name, values in expected.items():
        version_id = portfolio[name]
        wanted = dict(
            zip(LIFECYCLE, (None if v is None else float(v) for v in values), strict=True)
        )
        assert _lifecycle(by_id, version_id) == wanted, name
        assert _lifecycle(by_table, version_id) == wanted, name
        for fact, value in wanted.items():
            column = portfolio_table.column(fact, highest=True)
            observed = column[rows[version_id]]
            assert np.isnan(observed) if value is None else observed == value, (name, fact)


def test_a_finding_due_today_is_not_yet_overdue(
    portfolio: dict[str, int], session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        subjects = _subjects(session)
        today = facts.gather(session, subjects, now=NOW)
        tomorrow = facts.gather(session, subjects, now=NOW + timedelta(days=1))
    # A1's open high finding and A2's open critical finding fall due today.
    assert today[portfolio["a1"]].value("findings.overdue") == 2.0
    assert tomorrow[portfolio["a1"]].value("findings.overdue") == 3.0
    assert today[portfolio["a2"]].value("findings.overdue") == 0.0
    assert tomorrow[portfolio["a2"]].value("findings.overdue") == 1.0
