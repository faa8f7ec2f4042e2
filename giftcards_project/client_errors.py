"""Django's `django.security.<exception>` loggers, one per kind of SuspiciousOperation, for
LOGGING: a logger's filters apply to records it logs itself, not to those of its children,
so each gets the one-line client error filter by name."""

from __future__ import annotations

# Every SuspiciousOperation subclass Django and its contrib apps raise (a test checks the
# list against the classes loaded), and the base class itself.
SUSPICIOUS_OPERATIONS = (
    "SuspiciousOperation",
    "DisallowedHost",
    "DisallowedRedirect",
    "RequestDataTooBig",
    "TooManyFieldsSent",
    "TooManyFilesSent",
    "SuspiciousFileOperation",
    "SuspiciousMultipartForm",
    "SuspiciousSession",
    "InvalidSessionKey",
    "DisallowedModelAdminLookup",
    "DisallowedModelAdminToField",
)


def security_loggers(*filters: str) -> dict[str, dict]:
    """LOGGING["loggers"] entries: each `django.security.<name>` logger with `filters`."""
    return {f"django.security.{name}": {"filters": list(filters)} for name in SUSPICIOUS_OPERATIONS}
