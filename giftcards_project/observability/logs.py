"""Log formats and the request id every line logged while a request is handled carries.

The id lives in a context variable (each gunicorn thread, and each asyncio task, has its
own), set by `requestid.RequestIdMiddleware`; `RequestIdFilter` copies it onto each record
at the handler, so records of every logger (Django's, ours, libraries') carry it. Imports
neither Django nor anything heavy: gunicorn's logger (gunicorn_logging.py) uses it too.
"""

from __future__ import annotations

import logging
import os
from contextvars import ContextVar
from datetime import datetime

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from giftcards_project.gunicorn_logging import redact_text

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# The fields of a JSON line besides `time` (ISO 8601, UTC); `request_id` is null outside
# requests.
JSON_FIELDS = ("levelname", "name", "message", "request_id")
JSON_RENAMED = {"levelname": "level", "name": "logger"}
# Extra attributes a record may carry that never go into a JSON line: Django's `request`
# (its repr holds the raw path and query, codes included) and `server_time`, which repeats
# the record's own time.
DROPPED_EXTRAS = ("request", "server_time")


def json_enabled() -> bool:
    """LOG_FORMAT=json: one JSON object per line, for every process (web, gunicorn, Celery)."""
    return os.environ.get("LOG_FORMAT", "").strip().lower() == "json"


class RequestIdFilter(logging.Filter):
    """Sets `record.request_id` to the current request's id (None outside a request) unless
    the record brought its own (gunicorn's access lines do). Attach it to handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class PlainFormatter(logging.Formatter):
    """Today's plain line (`time level logger message`); within a request the logger's name
    is followed by `[request id]`."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, **kwargs) -> None:
        super().__init__(fmt or PLAIN_FORMAT, datefmt, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        ident = getattr(record, "request_id", None)
        if not ident:
            return super().format(record)
        name = record.name
        record.name = f"{name} [{ident}]"
        try:
            return super().format(record)
        finally:
            record.name = name


class JsonFormatter(_JsonFormatter):
    """One JSON object per record: time, level, logger, message, request_id, the exception's
    traceback when there is one, and the record's other extra attributes that are plain
    values (strings are redacted like the access log: no code filter value survives)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("rename_fields", JSON_RENAMED)
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("json_ensure_ascii", False)
        kwargs["reserved_attrs"] = [*RESERVED_ATTRS, *DROPPED_EXTRAS]
        super().__init__(list(JSON_FIELDS), **kwargs)

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_data, record, message_dict)
        for key, value in list(log_data.items()):
            if isinstance(value, str):
                log_data[key] = redact_text(value)
            elif isinstance(value, datetime):
                log_data[key] = value.isoformat(timespec="milliseconds")
            elif value is not None and not isinstance(value, int | float | bool):
                # An object's repr may hold anything (a request, a card): left out.
                del log_data[key]


def formatter_class() -> type[logging.Formatter]:
    return JsonFormatter if json_enabled() else PlainFormatter
