"""A private, throwaway PostgreSQL server that a test may stop and start at will.

Outage tests must not stop the shared server: other xdist workers (and anyone else on the machine)
run their tests against it at the same time, and no lock taken by one test can pause them. A
private server built with the same binaries exercises the same failure: the database process
goes away, then comes back on the same address.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BOOT_SECONDS = 30


def postgres_bin_dir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if (Path(directory) / "pg_ctl").exists() and (Path(directory) / "initdb").exists():
            return Path(directory)
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivatePostgres:
    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.data = root / "data"
        self.socket_dir = root
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        # PostgreSQL refuses to run as root; the Debian packages create a "postgres" user.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(root, user="postgres")

    def _run(self, program: str, *arguments: str) -> None:
        subprocess.run(  # noqa: S603 - fixed binaries, arguments built here
            [*self._as, str(self.bin_dir / program), *arguments],
            check=True,
            capture_output=True,
            timeout=BOOT_SECONDS + 10,
        )

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.data / "server.log"),
            "-w",
            "-t",
            str(BOOT_SECONDS),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", str(BOOT_SECONDS), "stop")

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextmanager
def private_postgres(bin_dir: Path) -> Iterator[PrivatePostgres]:
    """A started server; whatever happens in the block, it is stopped and deleted afterwards."""
    # Not pytest's tmp_path: the server's user must be able to reach its directory.
    root = Path(tempfile.mkdtemp(prefix="driftguard-pg-"))
    try:
        server = PrivatePostgres(bin_dir, root)
        server.init()
        server.start()
        try:
            yield server
        finally:
            if server.is_running():
                server.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)
