"""The facts of a few versions are read in one statement, of many table by table: both reads
give the same facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.governance import facts
from driftguard.governance.facts import Subject
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.rules import WHOLE

from .conftest import DEMO_GROUP

NOW = datetime.now(UTC) + timedelta(hours=5)  # after the demo's last monitoring run
READS = [("drift.psi", True), ("drift.psi", False), ("alerts.open", True), ("reference.rows", True)]


def _subjects(session: Session) -> list[Subject]:
    rows = session.execute(
        select(RegisteredModel, ModelVersion).join(
            ModelVersion, ModelVersion.model_id == RegisteredModel.id
        )
    ).all()
    return [Subject.of(model, version) for model, version in rows]


@DEMO_GROUP
def test_reading_by_id_and_by_table_give_the_same_facts(
    demo_portfolio: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with demo_portfolio() as session:
        subjects = _subjects(session)
        statements: list[str] = []
        event.listen(
            session.connection(), "before_cursor_execute", lambda *a: statements.append(a[2])
        )
        by_id = facts.gather(session, subjects, now=NOW)
        inputs = facts._read(session, subjects, snapshot=[], now=NOW)
        portfolio_by_id = facts.gather_portfolio(session, subjects, now=NOW, reads=READS)
        assert len(statements) == 3  # one statement each
        monkeypatch.setattr(facts, "READ_BY_ID_LIMIT", 0)
        by_table = facts.gather(session, subjects, now=NOW)
        portfolio_by_table = facts.gather_portfolio(session, subjects, now=NOW, reads=READS)

    assert by_id.keys() == by_table.keys() == {s.version_id for s in subjects}
    assert {v: f.as_dict() for v, f in by_id.items()} == {
        v: f.as_dict() for v, f in by_table.items()
    }
    assert portfolio_by_id.irregular == portfolio_by_table.irregular
    table_id, table_tables = portfolio_by_id.table, portfolio_by_table.table
    for fact, highest in READS:
        np.testing.assert_array_equal(
            table_id.column(fact, highest=highest), table_tables.column(fact, highest=highest)
        )
        if fact in ("alerts.open", "reference.rows"):
            continue
        for row in range(len(subjects)):
            assert table_id.subject(fact, row, highest=highest) == table_tables.subject(
                fact, row, highest=highest
            )

    # The demo portfolio exercises every kind of input, measured and missing, so the comparison
    # is not between empty reads.
    measured = [f.as_dict() for f in by_id.values()]
    for fact in ("alerts.open", "reference.rows", "monitoring.hours_since_last_run"):
        values = [m.get(fact, {}).get(WHOLE) for m in measured]
        assert any(v for v in values), fact
        assert any(not v for v in values), fact
    ids = {s.version_id for s in subjects}
    for found in (inputs.snapshots, inputs.alerts, inputs.references, inputs.approved):
        assert found, "the demo has none"
        assert found.keys() < ids, "the demo has one for every version"
    assert any("drift.psi" in m for m in measured)
    assert any("drift.psi" not in m for m in measured)
