"""Celery workers and the scheduler (beat): the entry point of background work when a broker is
configured. ``app.py`` builds the Celery application from settings; ``tasks.py`` is the one task
module."""
