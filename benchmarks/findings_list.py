"""The findings list at 10,000 models: the service call behind `GET /api/v1/findings`.

    uv run python benchmarks/findings_list.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Seeds the model-list benchmark's portfolio (10,000 models in 10 teams, two versions each) plus, for
every newest version, one validation and 0-4 findings (about 20,000) of random severity and
status, a third of them past due; then times `lifecycle.findings.list_findings` in its own
transaction, as a request would run it (query, count, page of 50), for a member of one team and for
a platform-wide reader, with the filters of the overdue view. Target: p95 <= 50 ms. No HTTP
server: the route adds only parsing and serialisation of one page. `--sqlite` runs it on SQLite.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text
from sqlalchemy.orm import Session, sessionmaker

from _databases import backend_parser, backends
from api_models import SECRET, seed
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory, reading
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.lifecycle import findings
from driftguard.lifecycle.orm import Finding, Validation
from driftguard.settings import load_settings


@dataclass(frozen=True)
class Filters:
    statuses: list[str] | None = None
    severities: list[str] | None = None
    overdue: bool | None = None


QUERIES = {
    "status=open&overdue=true": Filters(statuses=["open"], overdue=True),
    "severity=critical": Filters(severities=["critical"]),
}
SEVERITIES = ["low", "medium", "high", "critical"]
STATUSES = ["open", "open", "remediation_submitted", "closed"]


def seed_findings(url: str) -> int:
    engine = build_engine(load_settings(database_url=url, jwt_secret=SECRET))
    rng = random.Random(3)
    now = datetime.now(UTC)
    today = now.date()
    with engine.begin() as conn:
        newest = conn.execute(
            text(
                "SELECT v.id, v.model_id, m.team_id FROM model_versions v "
                "JOIN registered_models m ON m.id = v.model_id WHERE v.number = 2 ORDER BY v.id"
            )
        ).all()
        owner = conn.execute(text("SELECT id FROM users WHERE email LIKE 'engineer%'")).scalar()
        conn.execute(
            insert(Validation),
            [{"team_id": team_id, "model_id": model_id, "version_id": version_id,
              "status": "open", "revision": 1, "scope": "full", "method": "back-test",
              "conditions": "", "outcome_note": "", "created_at": now, "updated_at": now}
             for version_id, model_id, team_id in newest],
        )  # fmt: skip
        validation_of: dict[int, int] = dict(
            conn.execute(text("SELECT version_id, id FROM validations")).all()
        )
        rows = []
        for version_id, model_id, team_id in newest:
            for k in range(rng.randint(0, 4)):
                rows.append({
                    "team_id": team_id, "model_id": model_id, "version_id": version_id,
                    "validation_id": validation_of[version_id], "title": f"finding {k}",
                    "description": "", "severity": rng.choice(SEVERITIES), "owner_id": owner,
                    "due_date": today + timedelta(days=rng.randint(-60, 120)),
                    "status": rng.choice(STATUSES), "revision": 1, "remediation_note": "",
                    "created_at": now, "updated_at": now,
                })  # fmt: skip
        conn.execute(insert(Finding), rows)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return len(rows)


def measure(
    factory: sessionmaker[Session], principal: Principal, filters: Filters, repeats: int
) -> tuple[list[float], int]:
    """Milliseconds of each call (after one to warm the pool and caches), and the list's total."""
    total = 0
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        with reading(factory) as session:
            total = list_total(session, principal, filters)
        if i:
            times.append((time.perf_counter() - start) * 1000)
    return sorted(times), total


def main() -> None:
    parser = backend_parser(__doc__ or "")
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print("| backend | caller | query | total | p50 ms | p95 ms | p99 ms | target |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    for url, label in backends(args):
        seed(url, args.models, args.teams)
        count = seed_findings(url)
        engine = build_engine(load_settings(database_url=url, jwt_secret=SECRET))
        factory = build_session_factory(engine)
        with factory() as session:
            team = session.scalar(text("SELECT MIN(id) FROM teams"))
        callers = {
            "member of one team": Principal(user_id=None, team_roles={team: Role.VIEWER}),
            "platform-wide (auditor)": Principal(user_id=None, platform_role=Role.AUDITOR),
        }
        for caller, principal in callers.items():
            for name, filters in QUERIES.items():
                times, total = measure(factory, principal, filters, args.repeats)
                p95 = times[int(0.95 * len(times)) - 1]
                p99 = times[int(0.99 * len(times)) - 1]
                verdict = "met" if p95 <= 50 else "**missed**"
                print(
                    f"| {label} ({count} findings) | {caller} | {name} | {total} | "
                    f"{statistics.median(times):.1f} | **{p95:.1f}** | {p99:.1f} | "
                    f"p95 ≤ 50 ms — {verdict} |"
                )
        engine.dispose()


def list_total(session: Session, principal: Principal, filters: Filters) -> int:
    page = findings.list_findings(
        session,
        principal=principal,
        statuses=filters.statuses,
        severities=filters.severities,
        model_id=None,
        overdue=filters.overdue,
        limit=50,
        offset=0,
    )
    assert len(page.items) == min(50, page.total)
    return page.total


if __name__ == "__main__":
    main()
