"""The moments the service accepts (those every time zone can show), and how staff pages
write one (to the minute, with its zone).

Python's datetimes run from 0001-01-01 to 9999-12-31 in local time, so a moment near either
end has no local time in zones on the far side of UTC (9999-12-31T23:00Z is already the year
10000 in Tokyo). Every UTC offset in the IANA database is under 16 hours (the extremes are
19th-century local mean times: Asia/Manila -15:56, America/Metlakatla +15:13; +14:00 today).
So the service accepts, from every entry point (both APIs, their filters, the admin, the
services), moments from EARLIEST to LATEST inclusive: a day after the start of Python's range,
and the first instant of its last day. Each of them, and the microsecond before it (the last
valid moment of a card that expires then), has a local time in every zone.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

EARLIEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
RANGE_TEXT = "from 0001-01-02T00:00:00Z to 9999-12-31T00:00:00Z"
MESSAGE = f"Must be a moment {RANGE_TEXT}."


def to_utc(moment: dt.datetime) -> dt.datetime | None:
    """The moment in UTC (a naive one is taken as UTC), or None when it is outside the range,
    including when it cannot even be converted."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        utc = moment.astimezone(dt.UTC)
    except OverflowError:
        return None
    return utc if EARLIEST <= utc <= LATEST else None


def in_range(moment: dt.datetime) -> bool:
    return to_utc(moment) is not None


def moment(value: dt.datetime | None, zone: dt.tzinfo | None = None, *, seconds=False) -> str:
    """How the staff admin writes a moment: "2026-12-07 11:04 CET", always with its zone's
    abbreviation, in `zone`, else in the zone the page is shown in (the staff user's
    business's, UTC for users without one: giftcards.middleware); "—" for none."""
    if value is None:
        return "—"
    local = value.astimezone(zone) if zone is not None else timezone.localtime(value)
    # date().isoformat(): strftime's %Y drops the leading zeros of years before 1000.
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{local.date().isoformat()} {clock} {local.tzname()}"
