"""Background jobs: the dead-letter record of tasks that exhausted their retries, and the
periodic maintenance jobs. The tasks themselves are in ``driftguard.worker.tasks``."""
