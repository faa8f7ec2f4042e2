"""The gift card service's Django project; its Celery app loads with it, so that tasks queued
from a request or a command reach the configured broker."""

from giftcards_project.celery import app as celery_app

__all__ = ["celery_app"]
