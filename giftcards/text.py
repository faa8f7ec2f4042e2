"""Text every store can hold: no NUL character (PostgreSQL refuses it in text and in jsonb,
SQLite keeps it) and no lone surrogate (it has no UTF-8 encoding), so both engines refuse the
same input, with the same 400, before anything is written."""

from __future__ import annotations

import math
import re

# A surrogate pair sent as two \u escapes is joined by the JSON decoder; what remains in a
# str is unpaired.
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
CODE = "invalid_character"


def problem(text: str, what: str = "Text") -> str | None:
    """Why `text` cannot be accepted, or None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return f"{what} cannot contain the NUL character (U+0000)."
    return (
        f"{what} cannot contain an unpaired surrogate (U+{ord(char):04X}); a character beyond "
        "U+FFFF is sent as a pair of \\u escapes."
    )


def find_in_json(value) -> tuple[tuple[str | int, ...], str] | None:
    """Where the first string of a parsed JSON value that cannot be accepted is, and why; None
    when there is none. A bad object key is reported at the object (never echoing the key).
    Walks without recursion."""
    stack: list[tuple[tuple[str | int, ...], object]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            reason = problem(item)
            if reason is not None:
                return path, reason
        elif isinstance(item, dict):
            for key in item:
                reason = problem(key, "A member name") if isinstance(key, str) else None
                if reason is not None:
                    return path, reason
            stack.extend(((*path, key), child) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend(
                ((*path, index), child) for index, child in reversed(list(enumerate(item)))
            )
    return None


INFINITE = "A number must be finite: this one is too large for JSON to hold."


def find_infinite(value) -> tuple[str | int, ...] | None:
    """Where the first number of a parsed JSON value that is not finite is, or None. Python
    reads 1e999 as infinity, which JSON cannot write back: SQLite's JSON check and
    PostgreSQL's jsonb refuse it. Walks without recursion."""
    stack: list[tuple[tuple[str | int, ...], object]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return path
        if isinstance(item, dict):
            stack.extend(((*path, key), child) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend(
                ((*path, index), child) for index, child in reversed(list(enumerate(item)))
            )
    return None


def storable(text: str) -> str:
    """`text` with what no store can hold replaced (U+FFFD): for text we record but did not
    choose, such as a webhook receiver's answer."""
    return _FORBIDDEN.sub("\ufffd", text)
