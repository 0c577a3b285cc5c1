from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2

# Data-frame helpers (pyarrow) are imported where frames are handled, so that commands that only
# ask questions (``driftguard gate check``) start fast.


BATCH_ROWS = 10_000
FILE_ROWS = 1_000_000
PARQUET = "application/vnd.apache.parquet"
FILE_TYPES = {
    ".parquet": PARQUET,
    ".csv": "text/csv",
    ".arrow": "application/vnd.apache.arrow.file",
    ".feather": "application/vnd.apache.arrow.file",
    ".arrows": "application/vnd.apache.arrow.stream",
}
RETRY_STATUSES = frozenset({429, 502, 503, 504})


class DriftGuardAPIError(Exception):
    """An error answer from the server, with its code, message, field details and request id."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.code = str(body.get("error", "error"))
        self.details = body.get("details", [])
        self.request_id = body.get("request_id")
        super().__init__(f"{status} {self.code}: {body.get('message', '')}")


class Client:
    """A DriftGuard API client. Batches are chunked, and retried safely with idempotency keys.

    Parameters
    ----------
    url, api_key
        Default to ``DRIFTGUARD_URL`` and ``DRIFTGUARD_API_KEY``.
    http
        An ``httpx2.Client`` to send requests with (tests pass the app's test client).
    retries, backoff_seconds
        Attempts after the first for connection errors and 429/5xx answers, with exponential
        backoff (honouring ``Retry-After``).
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        http: httpx2.Client | None = None,
        timeout: float = 60.0,
        retries: int = 3,
        backoff_seconds: float = 0.5,
    ) -> None:
        key = api_key or os.environ.get("DRIFTGUARD_API_KEY")
        if not key:
            raise ValueError("api_key: give it, or set DRIFTGUARD_API_KEY")
        base = url or os.environ.get("DRIFTGUARD_URL")
        if http is None and not base:
            raise ValueError("url: give it, or set DRIFTGUARD_URL")
        self._http = http or httpx2.Client(base_url=str(base), timeout=timeout)
        self._headers = {"X-API-Key": key}
        self._retries = retries
        self._backoff = backoff_seconds
        self._model_ids: dict[str, int] = {}

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        idempotency_key: str | None = None,
        content: bytes | Path | None = None,
        content_type: str | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        extra_headers: dict[str, str] | None = None,
        raw: bool = False,
    ) -> Any:
        headers = dict(self._headers) | (extra_headers or {})
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if content_type is not None:
            headers["Content-Type"] = content_type
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                if isinstance(content, Path):  # streamed from disk, from the start each try
                    with content.open("rb") as stream:
                        response = self._http.request(
                            method, path, content=stream, params=params, headers=headers
                        )
                else:
                    response = self._http.request(
                        method,
                        path,
                        json=json,
                        content=content,
                        params=params,
                        headers=headers,
                        files=files,
                    )
            except httpx2.TransportError:
                if last:
                    raise
                time.sleep(self._backoff * 2**attempt)
                continue
            if response.status_code in RETRY_STATUSES and not last:
                retry_after = response.headers.get("Retry-After", "")
                delay = float(retry_after) if retry_after.isdigit() else self._backoff * 2**attempt
                time.sleep(min(delay, 60.0))
                continue
            if response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = {"message": response.text[:500]}
                raise DriftGuardAPIError(response.status_code, body)
            if raw:
                return response.content
            return response.json() if response.content else None
        raise AssertionError("unreachable")

    def model_id(self, model: int | str) -> int:
        """A model's id, from its id or its name (unique among the models the key may see)."""
        if isinstance(model, int):
            return model
        if model not in self._model_ids:
            page = self._request("GET", "/api/v1/models", params={"q": model, "limit": 200})
            matches = [m["id"] for m in page["items"] if m["name"] == model]
            if len(matches) != 1:
                found = "no model" if not matches else f"{len(matches)} models"
                raise LookupError(f"{found} named {model!r}; pass the model id instead")
            self._model_ids[model] = matches[0]
        return self._model_ids[model]

    def _version_path(self, model: int | str, version: int) -> str:
        return f"/api/v1/models/{self.model_id(model)}/versions/{version}"

    def set_reference(self, model: int | str, version: int, data: Any) -> dict[str, Any]:
        """Upload the version's reference (training) data; DriftGuard fits its profile.

        Sent as one Parquet file, whatever its size: a JSON body of a large frame would pass
        the server's bound on JSON values (and cost it far more memory to read)."""
        from driftguard.client._frames import parquet_bytes, to_arrow

        data = parquet_bytes(to_arrow(data))
        path = f"{self._version_path(model, version)}/reference/upload"
        result: dict[str, Any] = self._request(
            "POST", path, files={"file": ("reference.parquet", data, PARQUET)}
        )
        return result

    def log_predictions(
        self,
        model: int | str,
        version: int,
        data: Any,
        *,
        id_col: str,
        timestamp_col: str,
        prediction_col: str | None = None,
        score_col: str | None = None,
        sensitive_cols: Sequence[str] = (),
        feature_cols: Sequence[str] | None = None,
    ) -> dict[str, int]:
        """Log predictions from a data frame: up to 10,000 rows as JSON, more as Parquet files
        of up to 1,000,000 rows; each request is retried safely.

        Feature columns are every column other than the id, timestamp, prediction and score
        columns (or ``feature_cols``); ``sensitive_cols`` are sent alongside as attributes.
        """
        if prediction_col is None and score_col is None:
            raise ValueError("prediction_col/score_col: give at least one")
        from driftguard.client._frames import chunks, parquet_bytes, prediction_rows, to_arrow

        table = to_arrow(data)
        reserved = {id_col, timestamp_col, prediction_col, score_col}
        features = list(feature_cols or [c for c in table.column_names if c not in reserved])
        features += [c for c in sensitive_cols if c not in features]
        path = f"{self._version_path(model, version)}/predictions"
        totals = {"received": 0, "new": 0, "duplicates": 0}
        if table.num_rows > BATCH_ROWS:
            # Big frames go as Parquet files of up to a million rows: one request, one check.
            columns = [id_col, timestamp_col, prediction_col, score_col, *features]
            params = {"id_col": id_col, "timestamp_col": timestamp_col}
            params |= {"label_col": prediction_col} if prediction_col else {}
            params |= {"score_col": score_col} if score_col else {}
            for chunk in chunks(table, FILE_ROWS):
                data = parquet_bytes(chunk.select([c for c in columns if c is not None]))
                result = self._upload(path + "/upload", data, PARQUET, params)
                for name in totals:
                    totals[name] += int(result[name])
            return totals
        for chunk in chunks(table, BATCH_ROWS):
            rows = prediction_rows(
                chunk,
                id_col=id_col,
                timestamp_col=timestamp_col,
                prediction_col=prediction_col,
                score_col=score_col,
                feature_cols=features,
            )
            # Same chunk, same key: a retry after a lost response replays the first answer.
            content = json.dumps([path, rows], sort_keys=True, default=str).encode()
            key = "sdk-" + hashlib.sha256(content).hexdigest()[:40]
            result = self._request("POST", path, json={"rows": rows}, idempotency_key=key)
            for name in totals:
                totals[name] += int(result[name])
        return totals

    def upload_predictions(
        self,
        model: int | str,
        version: int,
        file: str | Path,
        *,
        id_col: str = "prediction_id",
        timestamp_col: str = "timestamp",
        label_col: str = "label",
        score_col: str = "score",
    ) -> dict[str, int]:
        """Send a CSV, Parquet or Arrow IPC file of up to 1,000,000 predictions as it is.

        Columns: the id, the timestamp (with a time zone), the predicted label and/or score,
        and the version's features. Stored whole or not at all; retried safely.
        """
        source = Path(file)
        kind = FILE_TYPES.get(source.suffix.lower())
        if kind is None:
            raise ValueError(f"file: must end in one of {', '.join(sorted(FILE_TYPES))}")
        params = {
            "id_col": id_col,
            "timestamp_col": timestamp_col,
            "label_col": label_col,
            "score_col": score_col,
        }
        path = f"{self._version_path(model, version)}/predictions/upload"
        result: dict[str, int] = self._upload(path, source, kind, params)
        return result

    def _upload(
        self, path: str, data: bytes | Path, content_type: str, params: dict[str, str]
    ) -> Any:
        # Same file and columns, same key: a retry after a lost response replays the answer.
        digest = hashlib.sha256(json.dumps([path, params], sort_keys=True).encode())
        if isinstance(data, Path):
            with data.open("rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
        else:
            digest.update(data)
        key = "sdk-" + digest.hexdigest()[:40]
        return self._request(
            "POST",
            path,
            params=params,
            content=data,
            content_type=content_type,
            idempotency_key=key,
        )

    def log_labels(
        self, model: int | str, version: int, data: Any, *, id_col: str, label_col: str
    ) -> dict[str, Any]:
        """Attach actual outcomes by prediction id; unknown ids come back in the result."""
        from driftguard.client._frames import chunks, to_arrow

        table = to_arrow(data)
        path = f"{self._version_path(model, version)}/labels"
        totals: dict[str, Any] = {"received": 0, "stored": 0, "unknown_prediction_ids": []}
        for chunk in chunks(table, BATCH_ROWS):
            ids, labels = chunk.column(id_col).to_pylist(), chunk.column(label_col).to_pylist()
            body = {
                "labels": [
                    {"prediction_id": str(i), "label": v} for i, v in zip(ids, labels, strict=True)
                ]
            }
            result = self._request("POST", path, json=body)
            totals["received"] += result["received"]
            totals["stored"] += result["stored"]
            totals["unknown_prediction_ids"] += result["unknown_prediction_ids"]
        return totals

    def run_monitoring(
        self, model: int | str, version: int, *, start: datetime, end: datetime
    ) -> dict[str, Any]:
        """Compute and store the reports of ``[start, end)`` now; returns the run with them."""
        body = {"start": start.isoformat(), "end": end.isoformat()}
        result: dict[str, Any] = self._request(
            "POST", f"{self._version_path(model, version)}/monitoring/runs", json=body
        )
        return result

    def get_drift(
        self,
        model: int | str,
        version: int,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Stored drift reports, oldest window first (every page)."""
        params: dict[str, Any] = {"kind": "drift", "limit": 200, "offset": 0}
        if start is not None:
            params["from"] = start.isoformat()
        if end is not None:
            params["to"] = end.isoformat()
        reports: list[dict[str, Any]] = []
        while True:
            page = self._request(
                "GET", f"{self._version_path(model, version)}/monitoring/reports", params=params
            )
            reports += page["items"]
            params["offset"] += len(page["items"])
            if not page["items"] or params["offset"] >= page["total"]:
                return reports

    def gate(
        self, model: int | str, version: int, environment: str, *, team_id: int | None = None
    ) -> dict[str, Any]:
        """May ``version`` go to ``environment`` now? ``exit_code``: 0 allowed, 1 blocked,
        2 approval pending; ``decision.rules`` says why."""
        params: dict[str, Any] = {"version": version, "environment": environment}
        if isinstance(model, int):
            path = f"/api/v1/models/{model}"
            params["model"] = self._request("GET", path)["name"]
        else:
            params["model"] = model
        if team_id is not None:
            params["team_id"] = team_id
        answer: dict[str, Any] = self._request("GET", "/api/v1/gate", params=params)
        return answer

    def request_deployment(
        self, model: int | str, version: int, environment: str, *, reason: str = ""
    ) -> dict[str, Any]:
        """Ask to deploy; the answer carries the policy's decision (blocked or pending)."""
        body = {
            "model_id": self.model_id(model),
            "version": version,
            "environment": environment,
            "reason": reason,
        }
        answer: dict[str, Any] = self._request("POST", "/api/v1/deployments", json=body)
        return answer

    # --- model cards ----------------------------------------------------------------------------

    def _card_path(self, model: int | str, version: int | None) -> str:
        if version is None:
            return f"/api/v1/models/{self.model_id(model)}/card"
        return f"{self._version_path(model, version)}/card"

    def get_card(self, model: int | str, version: int | None = None) -> dict[str, Any]:
        """The model's card (or, with ``version``, that version's), with ``complete`` and the
        required fields still ``missing``."""
        answer: dict[str, Any] = self._request("GET", self._card_path(model, version))
        return answer

    def put_card(
        self,
        model: int | str,
        card: dict[str, Any],
        version: int | None = None,
        *,
        if_match: int | str | None = None,
    ) -> dict[str, Any]:
        """Write the model's card (or a version's): a new revision, or none when ``card`` is the
        current one, so a retry is safe. ``if_match`` (the revision number or content hash the
        change was made from) refuses to overwrite a newer revision (412)."""
        headers = None if if_match is None else {"If-Match": str(if_match)}
        answer: dict[str, Any] = self._request(
            "PUT", self._card_path(model, version), json=card, extra_headers=headers
        )
        return answer

    def evidence(self, model: int | str, version: int, *, pack_format: str = "pdf") -> bytes:
        """The version's evidence pack as ``pdf``, ``html`` (one self-contained file) or
        ``json`` (the sections and their hash manifest)."""
        path = f"{self._version_path(model, version)}/evidence"
        body: bytes = self._request("GET", path, params={"format": pack_format}, raw=True)
        return body
