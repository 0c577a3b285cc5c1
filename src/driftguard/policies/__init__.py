"""Stored governance policies: immutable, hashed versions of policy documents and which one is
active. The documents themselves are parsed and judged by the pure ``driftguard.rules``."""
