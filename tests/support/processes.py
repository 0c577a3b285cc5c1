"""DriftGuard processes for multi-process tests: servers, workers and the scheduler, started
with the installed ``driftguard`` command or uvicorn, output to files, always killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx2

# Imports dominate start-up; on a loaded two-core machine five interpreters take a while.
BOOT_SECONDS = 120
DRIFTGUARD = str(Path(sys.executable).with_name("driftguard"))


def wait_for_http(
    url: str, *, alive: Callable[[], bool], output: Callable[[], str], bound: float = BOOT_SECONDS
) -> None:
    """Poll ``url`` until it answers 200: up to ``bound`` seconds, which is generous because a
    loaded machine can take a minute to import the app, but no longer once the process has died.
    Fails with the tail of the process's output, which says why."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline and alive():
        try:
            if httpx2.get(url, timeout=2).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    state = "is running" if alive() else "exited"
    tail = output()[-4000:]
    raise RuntimeError(
        f"{url} did not answer 200 within {bound:.0f} s; the process {state}:\n{tail}"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Process:
    def __init__(self, name: str, command: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.command = command
        self.env = {**os.environ, **env}
        self.log = logs / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and command
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine or container dies."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Server(Process):
    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
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
            str(self.port),
            "--log-level",
            "warning",
        ]
        super().__init__(name, command, env, logs)

    def wait_ready(self) -> None:
        try:
            wait_for_http(f"{self.url}/readyz", alive=self.alive, output=self.output)
        except RuntimeError:
            self.kill()
            raise


def worker(name: str, env: dict[str, str], logs: Path) -> Process:
    """One task at a time in the worker's own process (``--pool solo``): killing it kills the
    task it runs."""
    return Process(name, [DRIFTGUARD, "worker", "--pool", "solo"], env, logs)


def scheduler(name: str, env: dict[str, str], logs: Path) -> Process:
    return Process(name, [DRIFTGUARD, "scheduler"], env, logs)
