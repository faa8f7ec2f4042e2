"""What production refuses to start without: with DJANGO_DEBUG off, a missing or weak secret,
code key or host list stops the process with one line naming every problem (no traceback) and
exit status 78 (EX_CONFIG), which the systemd units do not restart on: status 1 is also any
uncaught error and Celery's "unrecoverable" one (its broker retries spent), which they must.

Reads the environment only (no Django import), so settings.py, `manage.py`, Celery and
gunicorn's master (gunicorn.conf.py's `on_starting`, before it binds the port or forks a
worker) all apply the same rules.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

# sysexits.h: a configuration error; a restart cannot fix it.
EX_CONFIG = 78

# Django's own bar for a secret key (check security.W009): long, varied, not a placeholder.
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5
INSECURE_PREFIXES = ("django-insecure-", "insecure-", "changeme", "change-me", "secret")
# The code key encrypts and hashes every stored code (giftcards.checks: W002).
MIN_CODE_KEY_LENGTH = 32
# Debug mode's public fallbacks (settings.py): never a production secret.
DEVELOPMENT_KEY = "insecure-development-key-only-for-debug-mode"
TRUE = {"1", "true", "yes", "on"}


def debug(environ: Mapping[str, str]) -> bool:
    """DJANGO_DEBUG as settings.py reads it: on unless set to something other than a yes."""
    value = environ.get("DJANGO_DEBUG")
    if value is None or value == "":
        return True
    return value.strip().lower() in TRUE


def _weak_secret(value: str) -> bool:
    return (
        len(set(value)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS
        or value.lower().startswith(INSECURE_PREFIXES)
        or value == DEVELOPMENT_KEY
    )


def problems(environ: Mapping[str, str]) -> list[str]:
    """What is missing or weak for production; empty in debug mode."""
    if debug(environ):
        return []
    found = []
    secret = environ.get("DJANGO_SECRET_KEY", "")
    if not secret:
        found.append("DJANGO_SECRET_KEY is not set")
    elif len(secret) < MIN_SECRET_KEY_LENGTH:
        found.append(f"DJANGO_SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters")
    elif _weak_secret(secret):
        found.append("DJANGO_SECRET_KEY is a placeholder, not a random secret")
    code_key = environ.get("GIFTCARD_CODE_KEY", "")
    if not code_key:
        found.append("GIFTCARD_CODE_KEY is not set")
    elif len(code_key) < MIN_CODE_KEY_LENGTH:
        found.append(f"GIFTCARD_CODE_KEY is shorter than {MIN_CODE_KEY_LENGTH} characters")
    elif _weak_secret(code_key):
        found.append("GIFTCARD_CODE_KEY is a placeholder, not a random secret")
    elif code_key == secret:
        found.append("GIFTCARD_CODE_KEY must differ from DJANGO_SECRET_KEY")
    hosts = [host.strip() for host in environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")]
    if not any(hosts):
        found.append("DJANGO_ALLOWED_HOSTS is empty")
    return found


def message(found: list[str]) -> str:
    return (
        "Refusing to start: DJANGO_DEBUG is off and "
        + "; ".join(found)
        + " (README: running in production)."
    )


def refuse(line: str) -> None:
    """Stop the process: `line` on stderr, exit status EX_CONFIG."""
    print(line, file=sys.stderr, flush=True)
    raise SystemExit(EX_CONFIG)


def collecting_static(argv: Sequence[str]) -> bool:
    """`manage.py collectstatic` (or `django-admin`, `python -m django`): it serves nothing and
    reads no secret, so an image build runs it without production's secrets."""
    if len(argv) < 2 or argv[1] != "collectstatic":
        return False
    program = os.path.normpath(argv[0])
    return os.path.basename(program) in {"manage.py", "django-admin"} or program.endswith(
        os.path.join("django", "__main__.py")
    )


def enforce(environ: Mapping[str, str], argv: Sequence[str] | None = None) -> None:
    """Exit with one line on stderr (status EX_CONFIG) when production settings are missing
    or weak; `collectstatic` is let through (collecting_static)."""
    if collecting_static(sys.argv if argv is None else argv):
        return
    found = problems(environ)
    if found:
        refuse(message(found))
