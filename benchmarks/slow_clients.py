"""Slow clients against a local ``driftguard serve``: how long the slow connections stay open
and what ordinary requests see meanwhile.

    uv run python benchmarks/slow_clients.py [--header-clients 10] [--body-clients 10]

A fresh SQLite database in a temporary folder, one viewer; the server runs with the deadlines
given (3 s each by default) and a per-address cap of 4. The slow clients (spread over
127.0.0.2-6, four to an address) send headers, or a login body after prompt headers, one byte
every half second; ordinary authenticated requests (GET /api/v1/models, two at a time, from
127.0.0.1) run until every slow connection is closed. Bounded: every slow client gives up after
30 s, loopback only, the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory
from driftguard.identity.passwords import build_hasher
from driftguard.identity.permissions import Role
from support.config import TEST_SECRET, make_settings
from support.identity import PASSWORD, make_team, make_user
from support.slow_clients import ServeProcess, run_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--header-clients", type=int, default=10)
    parser.add_argument("--body-clients", type=int, default=10)
    parser.add_argument("--header-timeout", type=float, default=3.0)
    parser.add_argument("--body-timeout", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'driftguard.db'}"
        settings = make_settings(url)
        engine = build_engine(settings)
        migrate.upgrade(engine)
        factory = build_session_factory(engine)
        email = make_user(factory, build_hasher(settings), teams={make_team(factory): Role.VIEWER})
        engine.dispose()
        env = {
            "DRIFTGUARD_ENVIRONMENT": "test",
            "DRIFTGUARD_DATABASE_URL": url,
            "DRIFTGUARD_JWT_SECRET": TEST_SECRET,
            "DRIFTGUARD_ARGON2_TIME_COST": "1",
            "DRIFTGUARD_ARGON2_MEMORY_COST_KIB": "1024",
            "DRIFTGUARD_ARGON2_PARALLELISM": "1",
            "DRIFTGUARD_SCHEDULER_ENABLED": "false",
            "DRIFTGUARD_WEBHOOK_DELIVERY_ENABLED": "false",
            "DRIFTGUARD_RATE_LIMIT_API": "100000/minute",
            "DRIFTGUARD_HTTP_HEADER_TIMEOUT_SECONDS": str(args.header_timeout),
            "DRIFTGUARD_HTTP_BODY_TIMEOUT_SECONDS": str(args.body_timeout),
            "DRIFTGUARD_HTTP_MAX_CONNECTIONS_PER_CLIENT": "4",
        }
        server = ServeProcess("server", env, Path(folder))
        server.start()
        try:
            server.wait_ready()
            login = httpx2.post(
                f"{server.url}/api/v1/auth/login",
                json={"email": email, "password": PASSWORD},
                timeout=30,
            )
            login.raise_for_status()
            figures = asyncio.run(
                run_scenario(
                    server.url,
                    token=login.json()["access_token"],
                    header_clients=args.header_clients,
                    body_clients=args.body_clients,
                    sources=[f"127.0.0.{n}" for n in range(2, 7)],
                )
            )
        finally:
            server.kill()
    print(
        f"{args.header_clients} header + {args.body_clients} body slow clients, deadlines "
        f"{args.header_timeout} s / {args.body_timeout} s"
    )
    print(figures.report())


if __name__ == "__main__":
    main()
