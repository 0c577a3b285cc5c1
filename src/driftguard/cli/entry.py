"""The ``driftguard`` command's entry point.

``driftguard gate check`` runs in CI before every release, so it loads only the gate and the HTTP
client (well under a second, interpreter included); every other command loads the full CLI.
Usage errors exit 64 (sysexits' EX_USAGE), never 2, which the gate uses for "pending".
"""

from __future__ import annotations

import sys

import typer

USAGE_ERROR = 64


def run(app: typer.Typer, args: list[str], *, prog_name: str) -> None:
    """Run a Typer app on ``args`` and exit with its code; usage errors exit with
    ``USAGE_ERROR``, an abort with 130."""
    try:
        code = app(args=args, prog_name=prog_name, standalone_mode=False)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(130)
    except typer.TyperException as exc:  # click-style errors; usage errors carry exit code 2
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        status = int(getattr(exc, "exit_code", 1))
        sys.exit(USAGE_ERROR if status == 2 else status)
    sys.exit(code if isinstance(code, int) else 0)


def main() -> None:
    """The ``driftguard`` console script: ``gate check`` loads only the gate's small app,
    anything else the full CLI."""
    args = sys.argv[1:]
    if args[:2] == ["gate", "check"]:
        from driftguard.cli.gate import gate_app

        run(gate_app, args[1:], prog_name="driftguard gate")
    from driftguard.cli.main import app

    run(app, args, prog_name="driftguard")
