"""What a request sees when the database freezes: time for an in-flight request to get its 503,
for requests sent during the freeze, for /readyz, and to recover after the thaw.

PostgreSQL: a real server process connected through a loopback proxy that stops moving bytes
(tests/support/freezable_proxy.py) — what a SIGSTOPped server looks like; the shared server is
never stopped. SQLite: a sign-in while another process holds the write lock.

    uv run python benchmarks/frozen_database.py \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test --rounds 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.frozen_database import (
    measure_postgres_freeze,
    measure_sqlite_lock,
    postgres_behind_proxy,
    sqlite_server,
)


def _row(name: str, status: int, seconds: float) -> str:
    return f"| {name} | {status} | {seconds:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres", help="admin URL of a PostgreSQL server (a throwaway database is made)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="freezes per backend")
    args = parser.parse_args()
    print("| case | status | seconds |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        logs = Path(scratch)
        if args.postgres:
            with postgres_behind_proxy(args.postgres, logs) as (served, proxy, direct_url):
                for round_ in range(1, args.rounds + 1):
                    figures = measure_postgres_freeze(served, proxy, direct_url)
                    tag = f"postgres #{round_}"
                    answer = figures.in_flight
                    print(
                        _row(
                            f"{tag}: in-flight request, freeze → answer",
                            answer.status,
                            answer.seconds,
                        )
                    )
                    for n, answer in enumerate(figures.arriving, start=1):
                        print(
                            _row(
                                f"{tag}: request {n} sent while frozen",
                                answer.status,
                                answer.seconds,
                            )
                        )
                    for n, answer in enumerate(figures.readyz, start=1):
                        print(
                            _row(f"{tag}: /readyz {n} while frozen", answer.status, answer.seconds)
                        )
                    print(_row(f"{tag}: thaw → first 200", 200, figures.recovery_seconds))
        with sqlite_server(logs / "locked.db", logs) as served:
            for round_ in range(1, args.rounds + 1):
                locked, ready, after = measure_sqlite_lock(served, logs / "locked.db")
                tag = f"sqlite #{round_}"
                print(
                    _row(
                        f"{tag}: sign-in while the write lock is held",
                        locked.status,
                        locked.seconds,
                    )
                )
                print(
                    _row(
                        f"{tag}: /readyz while the write lock is held", ready.status, ready.seconds
                    )
                )
                print(_row(f"{tag}: sign-in after release", after.status, after.seconds))


if __name__ == "__main__":
    main()
