"""Structured logs: one JSON object per line, on stderr and optionally a size-rotated file.

Everything logged under ``driftguard`` (structlog or the standard library) goes through the same
processors, the last of which before rendering is :func:`redact`: passwords, tokens, API keys and
``Authorization``/``Cookie`` headers never reach a log line, whether they come as a field or
inside a message.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from driftguard.settings import Settings

LOGGER_NAME = "driftguard"
REDACTED = "[redacted]"
_SENSITIVE_KEY = re.compile(
    r"pass(word|wd)?|secret|token|authorization|cookie|api[-_]?key|credential", re.IGNORECASE
)
_SENSITIVE_TEXT = (
    # "Authorization: Bearer xyz", "Bearer xyz"
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    # JWTs anywhere (header.payload.signature, base64url)
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    # DriftGuard API keys
    (re.compile(r"dgk_[A-Za-z0-9_-]+"), "dgk_" + REDACTED),
    # key=value or "key": "value" pairs whose key names a secret
    (
        re.compile(
            r"""(?i)((?:pass(?:word|wd)?|secret|[a-z_]*token|authorization|cookie|api[-_]?key)"""
            r"""["']?\s*[:=]\s*["']?)[^"',;&\s}]+"""
        ),
        r"\1" + REDACTED,
    ),
)


def _redact_text(text: str) -> str:
    for pattern, replacement in _SENSITIVE_TEXT:
        text = pattern.sub(replacement, text)
    return text


def redact_value(key: str, value: Any) -> Any:
    """``value`` with secret-named fields blanked and secret-shaped text replaced, recursively."""
    if _SENSITIVE_KEY.search(key) and not isinstance(value, bool | int | float | type(None)):
        return REDACTED
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, MutableMapping):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    return value


def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: blank every field named like a secret and secret-shaped text."""
    return {key: redact_value(key, value) for key, value in event_dict.items()}


def _processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        structlog.stdlib.ExtraAdder(),
        structlog.processors.format_exc_info,
    ]


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Send ``driftguard`` logs as JSON lines to ``stream`` (stderr) and the configured file.

    Safe to call again (each app build does): it replaces the handlers it installed before.
    """
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact,
            structlog.processors.JSONRenderer(),
        ],
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    if settings.log_file:
        handlers.append(
            logging.handlers.RotatingFileHandler(
                settings.log_file,
                maxBytes=settings.log_file_max_bytes,
                backupCount=settings.log_file_backups,
                encoding="utf-8",
            )
        )
    root = logging.getLogger(LOGGER_NAME)
    for old in [h for h in root.handlers if getattr(h, "driftguard_handler", False)]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.driftguard_handler = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    structlog.configure(
        processors=[
            *_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger under ``name`` (configured by :func:`configure_logging` where a process
    starts)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
