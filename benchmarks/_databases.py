"""A throwaway database next to a PostgreSQL server's, for one benchmark run."""

from __future__ import annotations

import argparse
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def throwaway_postgres(admin_url: str) -> Iterator[str]:
    """Create a uniquely named database on the server of ``admin_url``; drop it afterwards."""
    name = f"dg_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def throwaway_sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


def each_backend(postgres: str | None, sqlite: bool) -> Iterator[tuple[str, str]]:
    """``(url, label)`` of a throwaway database on each backend asked for, dropped after use."""
    if postgres:
        with throwaway_postgres(postgres) as url:
            yield url, "PostgreSQL"
    if sqlite:
        with throwaway_sqlite() as url:
            yield url, "SQLite"


def backend_parser(description: str) -> argparse.ArgumentParser:
    """A benchmark's argument parser with ``--postgres`` and ``--sqlite`` (see :func:`backends`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server to create a DB on")
    parser.add_argument("--sqlite", action="store_true", help="also run on SQLite")
    return parser


def backends(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """:func:`each_backend` for the arguments of a :func:`backend_parser`."""
    return each_backend(args.postgres, args.sqlite)
