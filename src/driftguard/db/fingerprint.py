"""Per-table row counts and content checksums: what a backup promises and a restore must match.

A table's checksum is SHA-256 over its rows in primary-key order, each row the canonical JSON of
the driver's raw values. It is stable for one backend (a restore onto the same backend), which is
all a backup needs; the two backends' drivers return different raw types.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import Connection, inspect

_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class TableFingerprint:
    rows: int
    sha256: str


def _plain(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)  # Decimal, UUID and the like


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def fingerprint_table(connection: Connection, table: str) -> TableFingerprint:
    """A table's row count and SHA-256 over its rows in primary-key order (what a backup must
    restore)."""
    inspector = inspect(connection)
    keys = inspector.get_pk_constraint(table).get("constrained_columns") or [
        column["name"] for column in inspector.get_columns(table)
    ]
    order = ", ".join(_quote(connection, key) for key in keys)
    digest = hashlib.sha256()
    rows = 0
    result = connection.execution_options(yield_per=_BATCH).exec_driver_sql(
        f"SELECT * FROM {_quote(connection, table)} ORDER BY {order}"  # noqa: S608 - reflected names
    )
    for row in result:
        line = json.dumps(list(row), default=_plain, sort_keys=True, separators=(",", ":"))
        digest.update(line.encode())
        digest.update(b"\n")
        rows += 1
    return TableFingerprint(rows=rows, sha256=digest.hexdigest())


def fingerprint_database(connection: Connection) -> dict[str, TableFingerprint]:
    """Every table of the database (the default schema), by name."""
    names = sorted(inspect(connection).get_table_names())
    return {name: fingerprint_table(connection, name) for name in names}


def differences(
    expected: dict[str, TableFingerprint], actual: dict[str, TableFingerprint]
) -> list[str]:
    """Human-readable mismatches, empty when both describe the same content."""
    problems: list[str] = []
    for name in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(name), actual.get(name)
        if want is None:
            problems.append(f"{name}: not in the backup")
        elif got is None:
            problems.append(f"{name}: missing after restore")
        elif want.rows != got.rows:
            problems.append(f"{name}: {got.rows} rows, the backup has {want.rows}")
        elif want.sha256 != got.sha256:
            problems.append(f"{name}: content checksum differs")
    return problems
