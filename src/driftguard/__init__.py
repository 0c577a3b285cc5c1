"""DriftGuard: ML model governance and monitoring."""

__version__ = "0.1.0"
