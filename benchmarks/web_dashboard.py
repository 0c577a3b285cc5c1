"""Web UI latency: the demo portfolio, a running server, pages fetched warm by signed-in users.

    uv run python benchmarks/web_dashboard.py --sqlite
    uv run python benchmarks/web_dashboard.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Seeds the demo portfolio (``driftguard demo``'s data: three teams, monitored models with two weeks
of predictions and daily reports), signs in through the form, and measures each page with one
client (latency) and ten (under load). The target: the overview's p95 at most 100 ms warm.
"""

from __future__ import annotations

import argparse
import re

import httpx2

from _databases import backend_parser, backends
from _loadgen import TABLE_HEADER, Server, run_load
from driftguard.cli.demo import seed_demo
from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory, unit_of_work
from driftguard.identity.passwords import build_hasher
from driftguard.settings import load_settings

SECRET = "benchmark-secret-" + "w" * 48


def seed(url: str, models: int) -> dict[str, str]:
    settings = load_settings(database_url=url, jwt_secret=SECRET)
    engine = build_engine(settings)
    migrate.upgrade(engine)
    with unit_of_work(build_session_factory(engine)) as session:
        credentials = seed_demo(session, hasher=build_hasher(settings), model_count=models)
    engine.dispose()
    return {email: password for email, _, password in credentials}


def session_cookie(base_url: str, email: str, password: str) -> str:
    with httpx2.Client(base_url=base_url, timeout=10) as http:
        form = http.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        signed_in = http.post(
            "/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
        )
        assert signed_in.status_code == 303, signed_in.text
        # The session and its idle-timeout stamp (renewed by every page, valid for 30 minutes).
        return "; ".join(f"{name}={value}" for name, value in http.cookies.items())


def token(base_url: str, email: str, password: str) -> str:
    response = httpx2.post(
        f"{base_url}/api/v1/auth/login", json={"email": email, "password": password}, timeout=10
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def bench(url: str, label: str, args: argparse.Namespace) -> list[str]:
    passwords = seed(url, args.models)
    env = {
        "DRIFTGUARD_DATABASE_URL": url,
        "DRIFTGUARD_JWT_SECRET": SECRET,
        "DRIFTGUARD_RATE_LIMIT_ENABLED": "false",
        "DRIFTGUARD_SCHEDULER_ENABLED": "false",
    }
    rows = []
    with Server(env) as server:
        for email in ("admin@driftguard.example", "credit-risk.viewer@driftguard.example"):
            browser = {"Cookie": session_cookie(server.base_url, email, passwords[email])}
            api = {"Authorization": f"Bearer {token(server.base_url, email, passwords[email])}"}
            who = email.split("@")[0]
            # Demo models 1, 4 and 7 belong to Credit Risk, so every user here may see them.
            scenarios = {
                "overview": (["/"], browser),
                "executive API": (["/api/v1/dashboard/executive"], api),
                "model inventory": (
                    ["/models", "/models?sort=-updated_at", "/models?stage=staging"],
                    browser,
                ),
                "model page": ([f"/models/{i}" for i in (1, 4, 7)], browser),
                "alerts": (["/alerts"], browser),
                "approval queue": (["/approvals"], browser),
                "policies": (["/policies"], browser),
            }
            for name, (paths, headers) in scenarios.items():
                for clients in (1, 10):
                    result = run_load(
                        f"{label}, {who}: {name}, {clients} client(s)", server.base_url, paths,
                        headers=headers, clients=clients, total=args.requests, warmup=20,
                    )  # fmt: skip
                    print(result.row(), flush=True)
                    rows.append(result.row())
    return rows


def main() -> None:
    parser = backend_parser(__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    print(TABLE_HEADER)
    for url, label in backends(args):
        bench(url, label, args)


if __name__ == "__main__":
    main()
