"""How the staff admin writes a moment: to the minute, always followed by its time zone
("2026-12-07 11:04 CET"), so no one has to guess which zone a page is in."""

from __future__ import annotations

from datetime import datetime, tzinfo

from django.utils import timezone

EMPTY = "—"


def moment(value: datetime | None, zone: tzinfo | None = None, *, seconds: bool = False) -> str:
    """`value` in `zone`, else in the zone the page is shown in (the staff user's business's,
    UTC for users without one: giftcards.middleware), with the zone's abbreviation."""
    if value is None:
        return EMPTY
    local = value.astimezone(zone) if zone is not None else timezone.localtime(value)
    # date().isoformat(): strftime's %Y drops the leading zeros of years before 1000.
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{local.date().isoformat()} {clock} {local.tzname()}"
