"""``driftguard card show|put``: read and write model and version cards over the API.

Exit codes: 0 done, 3 the server refused or could not be reached (the reason is printed), 64 a
usage error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from driftguard.cli.groups import command_group

if TYPE_CHECKING:
    from driftguard.client import Client

card_app = command_group("Model and version cards (the inventory record).")
REFUSED = 3

Model = Annotated[str, typer.Option("--model", help="model name or id")]
Version = Annotated[
    int | None, typer.Option("--version", min=1, help="a version's card instead of the model's")
]
Url = Annotated[str | None, typer.Option(help="[default: DRIFTGUARD_URL]")]
ApiKey = Annotated[
    str | None, typer.Option(help="[default: DRIFTGUARD_API_KEY]", show_default=False)
]


def make_client(url: str | None, api_key: str | None) -> Client:
    from driftguard.client import Client

    return Client(url, api_key, retries=1)


def _model(model: str) -> int | str:
    return int(model) if model.isdigit() else model


def _call(url: str | None, api_key: str | None, action: Any) -> dict[str, Any]:
    import httpx2

    from driftguard.client import DriftGuardAPIError

    try:
        with make_client(url, api_key) as client:
            answer: dict[str, Any] = action(client)
            return answer
    except (DriftGuardAPIError, httpx2.HTTPError, LookupError, ValueError) as exc:
        typer.echo(f"card: {exc}", err=True)
        for detail in getattr(exc, "details", [])[:20]:
            typer.echo(f"  {detail.get('loc')}: {detail.get('msg')}", err=True)
        raise typer.Exit(REFUSED) from None


@card_app.command("show")
def show(model: Model, version: Version = None, url: Url = None, api_key: ApiKey = None) -> None:
    """Print the current card as JSON (with ``complete`` and ``missing``)."""
    card = _call(url, api_key, lambda c: c.get_card(_model(model), version))
    typer.echo(json.dumps(card, indent=2, ensure_ascii=False))


@card_app.command("put")
def put(
    file: Annotated[Path, typer.Argument(help="the card, as YAML or JSON", exists=True)],
    model: Model,
    version: Version = None,
    if_match: Annotated[
        str | None,
        typer.Option("--if-match", help="the revision (number or hash) this edit starts from"),
    ] = None,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Write the card from FILE: a new revision, or none if it is the current one."""
    import yaml

    try:
        body = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"not YAML or JSON: {exc}", param_hint="FILE") from None
    if not isinstance(body, dict):
        raise typer.BadParameter("must hold one object of card fields", param_hint="FILE")
    card = _call(
        url, api_key, lambda c: c.put_card(_model(model), body, version, if_match=if_match)
    )
    state = "complete" if card["complete"] else "incomplete: " + ", ".join(card["missing"])
    typer.echo(f"revision {card['revision']} ({card['content_hash'][:12]}), {state}")
