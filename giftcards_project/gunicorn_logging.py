"""Gunicorn's access log without gift card codes: the values of code filters in query strings
(`filter[code_eq]=...`, `filter[q][code_in]=...`, any `filter[...code...]`, and the admin's
`?q=`, which may carry a scanned code) are written as `[redacted]`, in every atom that carries
a query (request line, query string, referer, any header or environ value), as are
credentials (`Authorization`, `Cookie`).

With LOG_FORMAT=json, gunicorn's error and access logs are JSON lines like the application's
(giftcards_project/observability/logs.py); an access line then also has the request's id (the
response's X-Request-ID), status, method, path and duration as fields.

Used by gunicorn.conf.py (`logger_class`); importing it needs gunicorn, not Django.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
# A parameter name, once percent-decoded, that names a code filter: any filter member whose
# bracketed path mentions `code` (filter[code], filter[code_eq], filter[q][code_in], ...).
CODE_FILTER = re.compile(r"filter\[[^=]*code", re.IGNORECASE)
# Atoms whose whole value is a query string (the others carry one after a `?`).
QUERY_ATOMS = frozenset({"q", "{query_string}e"})
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
SECRET_ATOMS = frozenset(
    {f"{{{name}}}i" for name in SECRET_HEADERS}
    | {f"{{http_{name.replace('-', '_')}}}e" for name in SECRET_HEADERS}
    | {"{set-cookie}o"}
)


def _secret_parameter(name: str, path: str) -> bool:
    decoded = unquote_plus(name)
    if CODE_FILTER.search(decoded):
        return True
    return decoded == "q" and "/admin/" in unquote_plus(path)


def redact_query(query: str, path: str = "") -> str:
    """The query string with the value of every code parameter replaced; parameter names,
    order and separators are kept as sent. `path` is the URL path the query belongs to."""
    parts = query.split("&")
    for index, part in enumerate(parts):
        name, equals, _value = part.partition("=")
        if equals and _secret_parameter(name, path):
            parts[index] = f"{name}={REDACTED}"
    return "&".join(parts)


def redact_text(text: str) -> str:
    """Any text that may hold URLs (a request line, a referer, a header): each query after a
    `?` is redacted up to the next whitespace."""
    if "?" not in text:
        return text
    return _URL_QUERY.sub(
        lambda match: f"{match['path']}?{redact_query(match['query'], match['path'])}", text
    )


# A query runs to the next whitespace: a quote or `#` inside it is still part of what the
# server parses (`code_in='A','B'` looks two codes up), so it is redacted too.
_URL_QUERY = re.compile(r"(?P<path>[^\s?]*)\?(?P<query>\S*)")


def redact_atoms(atoms: dict) -> dict:
    """Gunicorn's access log atoms, with codes and credentials taken out of every string."""
    path = atoms.get("U") or ""
    clean = {}
    for key, value in atoms.items():
        if isinstance(value, str):
            if key.lower() in SECRET_ATOMS:
                value = REDACTED
            elif key in QUERY_ATOMS:
                value = redact_query(value, path)
            else:
                value = redact_text(value)
        clean[key] = value
    return clean


class AccessFields(logging.Filter):
    """Copies the request id and a few atoms of an access line onto its record, for the
    JSON formatter. The atoms are the record's args (already redacted)."""

    FIELDS = {"status": "s", "method": "m", "path": "U", "duration_ms": "M", "remote_addr": "h"}

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if isinstance(atoms, Mapping):
            ident = atoms.get("{x-request-id}o")
            record.request_id = ident if ident and ident != "-" else None
            for field, atom in self.FIELDS.items():
                setattr(record, field, atoms.get(atom))
        return True


class RedactingLogger(Logger):
    """Gunicorn's logger, whose access log atoms never carry a gift card code."""

    def setup(self, cfg):
        super().setup(cfg)
        # Imported here: observability.logs imports this module.
        from giftcards_project.observability.logs import JsonFormatter, json_enabled

        if not json_enabled():
            return
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if getattr(handler, "_gunicorn", False):
                    handler.setFormatter(JsonFormatter())
                    if log is self.access_log:
                        handler.addFilter(AccessFields())

    def atoms(self, resp, req, environ, request_time):
        return redact_atoms(super().atoms(resp, req, environ, request_time))
