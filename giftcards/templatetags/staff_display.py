"""Template filters of the staff admin's pages: `{{ value|moment }}` writes a moment with its
time zone, as giftcards.admin.display does for the admin's columns."""

from __future__ import annotations

from django import template

from giftcards.admin import display

register = template.Library()


@register.filter
def moment(value, zone=None):
    """`{{ card.expires_at|moment }}`, or `{{ card.expires_at|moment:business.tzinfo }}`."""
    return display.moment(value, zone)


@register.filter
def moment_seconds(value):
    return display.moment(value, seconds=True)
