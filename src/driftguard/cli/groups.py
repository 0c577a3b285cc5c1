"""The CLI's command groups, made one way."""

from __future__ import annotations

from typing import Any

import typer


def command_group(help_text: str, **options: Any) -> typer.Typer:
    """A Typer group that shows its help when called without a command.

    Help and usage errors are drawn by click's plain formatter, not Rich: loading Rich's
    renderer costs about 0.3 s of CPU, more than the rest of ``driftguard --help`` together.
    """
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None, **options)
