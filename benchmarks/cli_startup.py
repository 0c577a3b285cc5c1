"""CPU time of ``driftguard --help`` (and a few command helps): each run a fresh process, its user
plus system CPU read from the kernel's accounting of children; prints the median and the range.

    uv run python benchmarks/cli_startup.py --repeats 15

The interpreter alone is measured the same way, for reference.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path


def _cpu_seconds(command: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    driftguard = shutil.which("driftguard") or str(Path(sys.executable).with_name("driftguard"))
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "driftguard --help": [driftguard, "--help"],
        "driftguard db --help": [driftguard, "db", "--help"],
        "driftguard audit verify --help": [driftguard, "audit", "verify", "--help"],
    }
    print("| command | median CPU s | min | max |\n|---|---|---|---|")
    for name, command in cases.items():
        runs = [_cpu_seconds(command) for _ in range(args.repeats)]
        print(f"| `{name}` | {statistics.median(runs):.3f} | {min(runs):.3f} | {max(runs):.3f} |")


if __name__ == "__main__":
    main()
