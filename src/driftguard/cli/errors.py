"""Domain error kinds → process exit codes (the CLI's one table)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer

from driftguard.errors import DriftGuardError, ErrorKind

EXIT_CODE_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 3,
    ErrorKind.NOT_FOUND: 4,
    ErrorKind.CONFLICT: 5,
    ErrorKind.STALE: 5,
    ErrorKind.UNAUTHENTICATED: 6,
    ErrorKind.FORBIDDEN: 6,
    ErrorKind.TOO_LARGE: 3,
    ErrorKind.RATE_LIMITED: 7,
    ErrorKind.UNAVAILABLE: 7,
}


@contextmanager
def exit_on_domain_error(echo: Callable[[str], None] | None = None) -> Iterator[None]:
    """Turn a domain error raised inside the block into its message and details on stderr and the
    exit code of its kind."""
    try:
        yield
    except DriftGuardError as exc:
        message = f"error: {exc.message}"
        for detail in exc.details:
            message += f"\n  {detail.loc}: {detail.msg}"
        (echo or (lambda m: typer.echo(m, err=True)))(message)
        raise typer.Exit(EXIT_CODE_BY_KIND[exc.kind]) from exc
