"""Error reports to Sentry, when ``DRIFTGUARD_SENTRY_DSN`` is set; nothing otherwise.

What is sent is kept small on purpose: the exception with its stack (no local variables), the
request's id, method and route template, and error-level log lines. No request body, header,
cookie or query string is attached, and every event and breadcrumb passes through the same
redaction as the JSON logs (``logs.redact_value``) before it leaves, so a password, token, API
key, ``Authorization`` or ``Cookie`` value that reaches an exception message or a log line is
blanked too.
"""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.types import Event, Hint

from driftguard import __version__
from driftguard.logs import redact_value
from driftguard.settings import Settings


def _scrub_event(event: Event, _hint: Hint) -> Event | None:
    # A log record's arguments travel apart from its template; keep only the formatted text,
    # which the redaction below can see whole.
    entry = event.get("logentry")
    if entry is not None:
        text = entry.get("formatted") or entry.get("message", "")
        event["logentry"] = {"message": text, "formatted": text, "params": []}
    scrubbed: Event = redact_value("", event)
    return scrubbed


def _scrub_breadcrumb(crumb: dict[str, Any], _hint: Hint) -> dict[str, Any] | None:
    scrubbed: dict[str, Any] = redact_value("", crumb)
    return scrubbed


def configure_error_reports(settings: Settings) -> bool:
    """Start the Sentry client for this process if a DSN is configured; say whether it did."""
    if settings.sentry_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.sentry_environment or settings.environment.value,
        release=f"driftguard@{__version__}",
        # Collect nothing about the caller or the request beyond what report_exception tags.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "off"}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "stack_frame_variables": False,
        },
        # No framework patching: the API reports its own unexpected errors (api/errors.py).
        auto_enabling_integrations=False,
        traces_sample_rate=0.0,
        before_send=_scrub_event,
        before_breadcrumb=_scrub_breadcrumb,
    )
    return True


def report_exception(exc: BaseException, *, tags: dict[str, str]) -> None:
    """Send ``exc`` with ``tags`` (a no-op when no client is configured)."""
    with sentry_sdk.new_scope() as scope:
        for name, value in tags.items():
            scope.set_tag(name, value)
        sentry_sdk.capture_exception(exc)


def close_error_reports(timeout_seconds: float = 2.0) -> None:
    """Flush what is queued and stop the client (at shutdown, and between tests)."""
    sentry_sdk.get_client().close(timeout=timeout_seconds)
    sentry_sdk.get_global_scope().set_client(None)
