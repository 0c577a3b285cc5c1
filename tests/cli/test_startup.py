"""``driftguard --help`` (and every command's help) loads the CLI and nothing heavy: the
statistics, the database layer, the server and the SDK are imported inside the commands that use
them. The CPU it costs is measured by ``benchmarks/cli_startup.py``; this checks the cause (what
gets imported), which does not vary with the machine's load."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# (pydantic itself is not here: Typer loads it to convert command parameters.)
HEAVY = (
    "scipy",
    "numpy",
    "pandas",
    "pyarrow",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "pydantic_settings",
    "httpx",
    "rich",
    "celery",
    "redis",
    "argon2",
    "cryptography",
    "uvicorn",
    "jinja2",
    "structlog",
    "prometheus_client",
)
# Of DriftGuard itself, only the CLI's own modules and the error tree (exit codes) may load.
ALLOWED = ("driftguard", "driftguard.errors", "driftguard.cli")

PROGRAM = """
import json, sys
sys.argv = ["driftguard", *json.loads(sys.argv[1])]
from driftguard.cli.entry import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["db", "--help"],
        ["serve", "--help"],
        ["worker", "--help"],
        ["backup", "--help"],
        ["audit", "verify", "--help"],
        ["predictions", "purge", "--help"],
        ["secrets", "--help"],
        ["log", "predictions", "--help"],
    ],
)
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", PROGRAM, json.dumps(argv)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), done.stdout + done.stderr
    assert "Usage: driftguard" in done.stdout
    modules: list[str] = report["modules"]
    heavy = sorted({m.split(".")[0] for m in modules} & set(HEAVY))
    assert heavy == [], f"driftguard {' '.join(argv)} imports {heavy}"
    ours = [
        m
        for m in modules
        if m.startswith("driftguard") and m not in ALLOWED and not m.startswith("driftguard.cli.")
    ]
    assert ours == [], f"driftguard {' '.join(argv)} imports {ours}"
