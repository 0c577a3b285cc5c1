#!/usr/bin/env bash
# The checks every stats commit must pass (run from the repository root).
set -euo pipefail
uv run ruff check src tests benchmarks
uv run ruff format --check src tests benchmarks
uv run mypy
uv run pytest tests/stats src/driftguard/stats -q -p no:cacheprovider
