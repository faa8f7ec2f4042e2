"""Template filters of the staff admin's pages: `{{ value|moment }}` writes a moment with its
time zone, as giftcards.dates.moment does for the admin's columns."""

from __future__ import annotations

from django import template

from giftcards import dates

register = template.Library()


@register.filter
def moment(value, zone=None):
    """`{{ card.expires_at|moment }}`, or `{{ card.expires_at|moment:business.tzinfo }}`."""
    return dates.moment(value, zone)


@register.filter
def moment_seconds(value):
    return dates.moment(value, seconds=True)
