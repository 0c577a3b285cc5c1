"""The import contracts bite: lint-imports over a copy of the source tree with one planted import
that breaks a rule reports that rule broken (and the untouched copy keeps every contract), so a
contract that silently stopped matching anything would fail here."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

# (file to plant in, the import planted, the contract it breaks)
VIOLATIONS = [
    (
        "migrations/versions/0007_portfolio_columns.py",
        "from driftguard.registry.orm import ModelVersion",
        "migrations import no application code",
    ),
    # The API and the web UI are siblings: what they share is in http/.
    ("web/pages/overview.py", "from driftguard.api import deps", "layers"),
    ("api/routes/health.py", "from driftguard.web import routing", "layers"),
    ("worker/tasks.py", "from driftguard.api import errors", "layers"),
    # Shared code knows neither entry point.
    ("http/deps.py", "from driftguard.api import deps", "layers"),
]


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports over ``tree``'s copy of the package (the working directory comes first on the
    import path, before the installed package)."""
    return subprocess.run(  # noqa: S603 - the installed dev tool, fixed arguments
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("contracts")
    shutil.copytree(
        ROOT / "src" / "driftguard",
        copy / "driftguard",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_untouched_copy_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("target", "planted", "contract"), VIOLATIONS)
def test_a_planted_import_breaks_its_contract(
    tree: Path, target: str, planted: str, contract: str
) -> None:
    source = tree / "driftguard" / target
    original = source.read_text()
    source.write_text(f"{original}\n{planted}  # noqa\n")
    try:
        result = _lint(tree)
    finally:
        source.write_text(original)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert re.search(rf"^{re.escape(contract)}\n-+$", broken, re.MULTILINE), result.stdout
