"""The import contracts fail on a deliberate violation: the data path pointing one way (ingest →
monitoring → governance → jobs, the rules engine pure), the entry points kept apart, migrations
free of application code. Each case copies the source tree, adds one forbidden import, and runs
``lint-imports`` over the copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(
    tmp_path: Path, violation: tuple[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over a copy of ``src/driftguard``, with ``import <module>`` appended to
    the file ``violation[0]`` (relative to the package) when given."""
    package = tmp_path / "src" / "driftguard"
    shutil.copytree(
        ROOT / "src" / "driftguard", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if violation is not None:
        path, module = violation
        with (package / path).open("a") as file:
            file.write(f"\nimport {module}  # a deliberate violation\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    return subprocess.run(  # noqa: S603 - the environment's own lint-imports
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_tree_as_it_is_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("path", "module"),
    [
        # The data path points one way: ingest, monitoring, governance, jobs.
        ("ingest/service.py", "driftguard.monitoring.runs"),
        ("monitoring/runs.py", "driftguard.governance.after_run"),
        ("governance/alerts.py", "driftguard.jobs.scheduler"),
        # The rules engine stays pure.
        ("rules/decision.py", "driftguard.ingest.orm"),
        # A migration runs as written: no application code.
        ("migrations/versions/0007_portfolio_columns.py", "driftguard.registry.orm"),
        # The API, the web UI and the workers are siblings; what the first two share is in http/.
        ("web/pages/overview.py", "driftguard.api.deps"),
        ("api/routes/health.py", "driftguard.web.routing"),
        ("worker/tasks.py", "driftguard.api.errors"),
        ("http/deps.py", "driftguard.api.deps"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path: Path, path: str, module: str) -> None:
    result = _lint(tmp_path, (path, module))
    importer = "driftguard." + path.removesuffix(".py").replace("/", ".")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    # (lint-imports wraps long lines: compare with the whitespace folded)
    assert f"{importer} -> {module}" in " ".join(result.stdout.split()), result.stdout
