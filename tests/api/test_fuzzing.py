"""Schemathesis against our own OpenAPI, on a real server over loopback with a real token: no 5xx,
no response that breaks its documented schema, no operation that ignores missing credentials.

The run is bounded by ``--max-examples`` (DRIFTGUARD_TEST_FUZZ_EXAMPLES, default 5; CI may raise
it) and a subprocess timeout. Schemathesis runs as its own process: its pytest integration does
not work with this pytest.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory
from driftguard.identity.passwords import build_hasher
from driftguard.identity.permissions import Role
from support.config import TEST_SECRET, make_settings
from support.identity import PASSWORD, make_team, make_user
from support.processes import wait_for_http
from support.registry import model_body, version_body

EXAMPLES = os.environ.get("DRIFTGUARD_TEST_FUZZ_EXAMPLES", "5")
RUN_TIMEOUT_SECONDS = 420


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    token: str
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _server_environment(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTGUARD_")}
    env.update(
        DRIFTGUARD_ENVIRONMENT="test",
        DRIFTGUARD_DATABASE_URL=database_url,
        DRIFTGUARD_JWT_SECRET=TEST_SECRET,
        DRIFTGUARD_ARGON2_TIME_COST="1",
        DRIFTGUARD_ARGON2_MEMORY_COST_KIB="1024",
        DRIFTGUARD_ARGON2_PARALLELISM="1",
        # The fuzzer sends thousands of requests; limits would turn most of them into 429s.
        DRIFTGUARD_RATE_LIMIT_ENABLED="false",
        DRIFTGUARD_SCHEDULER_ENABLED="false",
        DRIFTGUARD_LOG_LEVEL="ERROR",
    )
    return env


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    database_url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    settings = make_settings(database_url)
    engine = build_engine(settings)
    try:
        migrate.upgrade(engine)
        factory = build_session_factory(engine)
        team = make_team(factory)
        email = make_user(factory, build_hasher(settings), platform_role=Role.ADMIN)
    finally:
        engine.dispose()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [
                sys.executable,
                "-m",
                "uvicorn",
                "driftguard.api.asgi:app",
                "--factory",
                "--http",
                "driftguard.api.http_protocol:GuardedH11Protocol",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=_server_environment(database_url),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(
            f"{base_url}/livez", alive=lambda: process.poll() is None, output=log.read_text
        )
        login = httpx2.post(
            f"{base_url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        token = login.json()["access_token"]
        # One real model with a version, so some generated ids reach real objects.
        headers = {"Authorization": f"Bearer {token}"}
        model = httpx2.post(f"{base_url}/api/v1/models", json=model_body(team), headers=headers)
        assert model.status_code == 201, model.text
        version = httpx2.post(
            f"{base_url}/api/v1/models/{model.json()['id']}/versions",
            json=version_body(),
            headers=headers,
        )
        assert version.status_code == 201, version.text
        yield LiveServer(base_url=base_url, token=token, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_fuzzing_finds_no_server_error_and_no_schema_violation(
    live_server: LiveServer, tmp_path: Path
) -> None:
    schemathesis = Path(sys.executable).parent / "schemathesis"
    completed = subprocess.run(  # noqa: S603 - the installed dev tool, fixed arguments
        [
            str(schemathesis),
            "run",
            f"{live_server.base_url}/openapi.json",
            "--header",
            f"Authorization: Bearer {live_server.token}",
            "--checks",
            "not_a_server_error,response_schema_conformance,ignored_auth",
            "--phases",
            "coverage,fuzzing",
            "--max-examples",
            EXAMPLES,
            "--seed",
            "20261126",
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--generation-database",
            "none",
            "--output-sanitize",
            "true",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
        cwd=tmp_path,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-6000:] + live_server.log.read_text()[-3000:]
    assert "passed" in output
