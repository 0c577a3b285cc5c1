"""``driftguard log``: send a file of predictions or labels to a DriftGuard server (the SDK's
command-line counterpart; reads DRIFTGUARD_URL and DRIFTGUARD_API_KEY)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import typer

from driftguard.client import Client, DriftGuardAPIError

log_app = typer.Typer(help="Send predictions or labels from a file.", no_args_is_help=True)


def make_client() -> Client:
    return Client()


def read_table(path: Path) -> pa.Table:
    if path.suffix.lower() == ".parquet":
        return pq.read_table(path)
    if path.suffix.lower() == ".csv":
        return pa_csv.read_csv(path)
    raise typer.BadParameter("must be a .csv or .parquet file", param_hint="FILE")


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
    prediction_col: Annotated[str | None, typer.Option(help="predicted label column")] = None,
    score_col: Annotated[str | None, typer.Option(help="score column")] = None,
) -> None:
    """Log the predictions in FILE (CSV or Parquet), 10,000 rows per request."""
    table = read_table(file)
    with make_client() as client:
        try:
            result = client.log_predictions(
                _model(model), version, table, id_col=id_col, timestamp_col=timestamp_col,
                prediction_col=prediction_col, score_col=score_col,
            )  # fmt: skip
        except (DriftGuardAPIError, LookupError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            for detail in getattr(exc, "details", [])[:20]:
                typer.echo(f"  {detail.get('loc')}: {detail.get('msg')}", err=True)
            raise typer.Exit(3) from exc
    typer.echo(
        f"received {result['received']}, new {result['new']}, duplicates {result['duplicates']}"
    )
