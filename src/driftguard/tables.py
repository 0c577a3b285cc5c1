"""Where every table is imported, so metadata-wide tools (Alembic, tests) see the whole schema."""

from __future__ import annotations

import importlib

TABLE_MODULES = (
    "driftguard.audit.orm",
    "driftguard.identity.orm",
    "driftguard.registry.orm",
    "driftguard.ingest.orm",
    "driftguard.monitoring.orm",
    "driftguard.lifecycle.orm",
    "driftguard.governance.orm",
    "driftguard.webhooks.orm",
    "driftguard.jobs.orm",
)


def import_all_tables() -> None:
    """Import every package's ``orm.py``, so the metadata holds the whole schema."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
