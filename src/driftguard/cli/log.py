"""``driftguard log``: send a file of predictions to a DriftGuard server (the SDK's
command-line counterpart; reads DRIFTGUARD_URL and DRIFTGUARD_API_KEY)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from driftguard.cli.groups import command_group

if TYPE_CHECKING:
    from driftguard.client import Client


log_app = command_group("Send predictions from a file.")


def make_client() -> Client:
    """The SDK client ``driftguard log`` uses, configured from the environment."""
    from driftguard.client import Client

    return Client()


Model = Annotated[str, typer.Option("--model", help="model name or id")]
Version = Annotated[int, typer.Option("--version", min=1, help="version number")]


def _model(value: str) -> int | str:
    return int(value) if value.isdigit() else value


@log_app.command("predictions")
def log_predictions(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    model: Model,
    version: Version,
    id_col: Annotated[str, typer.Option(help="prediction id column")] = "prediction_id",
    timestamp_col: Annotated[str, typer.Option(help="timestamp column")] = "timestamp",
    prediction_col: Annotated[str, typer.Option(help="predicted label column")] = "label",
    score_col: Annotated[str, typer.Option(help="score column")] = "score",
) -> None:
    """Send the predictions in FILE (CSV, Parquet or Arrow IPC) as a file upload: stored whole
    or not at all. A Parquet file over 1,000,000 rows goes in parts of that size."""
    import pyarrow.parquet as pq

    from driftguard.client import DriftGuardAPIError
    from driftguard.client._client import FILE_ROWS, FILE_TYPES

    if file.suffix.lower() not in FILE_TYPES:
        raise typer.BadParameter(
            f"must end in one of {', '.join(sorted(FILE_TYPES))}", param_hint="FILE"
        )
    with make_client() as client:
        try:
            if file.suffix.lower() == ".parquet" and pq.read_metadata(file).num_rows > FILE_ROWS:
                table = pq.read_table(file)
                result = client.log_predictions(
                    _model(model),
                    version,
                    table,
                    id_col=id_col,
                    timestamp_col=timestamp_col,
                    prediction_col=prediction_col if prediction_col in table.column_names else None,
                    score_col=score_col if score_col in table.column_names else None,
                )
            else:
                result = client.upload_predictions(
                    _model(model),
                    version,
                    file,
                    id_col=id_col,
                    timestamp_col=timestamp_col,
                    label_col=prediction_col,
                    score_col=score_col,
                )
        except (DriftGuardAPIError, LookupError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            for detail in getattr(exc, "details", [])[:20]:
                typer.echo(f"  {detail.get('loc')}: {detail.get('msg')}", err=True)
            raise typer.Exit(3) from exc
    typer.echo(
        f"received {result['received']}, new {result['new']}, duplicates {result['duplicates']}"
    )
