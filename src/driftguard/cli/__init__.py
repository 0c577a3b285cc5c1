"""The ``driftguard`` command line."""
