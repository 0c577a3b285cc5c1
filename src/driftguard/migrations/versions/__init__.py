"""Alembic revision files (a package so the import contracts can see them)."""
