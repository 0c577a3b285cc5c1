"""``driftguard evidence``: export a model version's evidence pack from a running DriftGuard (over
HTTP, with an API key), and check a pack's JSON form against its manifest offline."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from driftguard.cli.groups import command_group

if TYPE_CHECKING:
    from driftguard.client import Client

evidence_app = command_group("Evidence packs: export one, check one.")
CANNOT_EXPORT = 3
EDITED = 1


class PackFormat(StrEnum):
    PDF = "pdf"
    HTML = "html"
    JSON = "json"


def make_client(url: str | None, api_key: str | None) -> Client:
    from driftguard.client import Client

    # A PDF of a long history takes seconds to render.
    return Client(url, api_key, retries=1, timeout=300.0)


@evidence_app.command("export")
def export(
    model: Annotated[str, typer.Option(help="model name (or id)")],
    version: Annotated[int, typer.Option(min=1, help="version number")],
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")],
    pack_format: Annotated[PackFormat, typer.Option("--format", help="pdf, html or json")] = (
        PackFormat.PDF
    ),
    url: Annotated[str | None, typer.Option(help="[default: DRIFTGUARD_URL]")] = None,
    api_key: Annotated[
        str | None, typer.Option(help="[default: DRIFTGUARD_API_KEY]", show_default=False)
    ] = None,
) -> None:
    """Write the version's evidence pack to a file; exit 3 if it could not be exported."""
    import httpx2

    from driftguard.client import DriftGuardAPIError

    try:
        with make_client(url, api_key) as client:
            body = client.evidence(
                int(model) if model.isdigit() else model, version, pack_format=pack_format.value
            )
    except (DriftGuardAPIError, httpx2.HTTPError, ValueError, LookupError) as exc:
        typer.echo(f"evidence: cannot export: {exc}", err=True)
        raise typer.Exit(CANNOT_EXPORT) from None
    output.write_bytes(body)
    typer.echo(f"wrote {output} ({len(body):,} bytes, {pack_format.value})")


@evidence_app.command("verify")
def verify(
    pack: Annotated[Path, typer.Argument(help="a pack exported with --format json")],
) -> None:
    """Recompute each section's SHA-256 and compare it with the manifest; exit 1 if any differs."""
    from driftguard.evidence.manifest import digest, mismatches

    try:
        document = json.loads(pack.read_text(encoding="utf-8"))
        bad = mismatches(document)
        manifest = document["manifest"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        typer.echo(f"evidence: not a pack's JSON form: {exc}", err=True)
        raise typer.Exit(CANNOT_EXPORT) from None
    for entry in manifest["sections"]:
        name = entry["name"]
        state = "EDITED" if name in bad else ("missing" if f"missing:{name}" in bad else "ok")
        shown = digest(document["sections"][name]) if name in document["sections"] else "—"
        typer.echo(f"{state:<8} {name:<14} {shown}")
    head = manifest["audit_chain_head"]
    typer.echo(f"audit chain head at export: seq {head['seq']}, {head['hash']}")
    if bad:
        typer.echo(f"evidence: the pack does not match its manifest: {', '.join(bad)}", err=True)
        raise typer.Exit(EDITED)
