"""The Celery application: webhook deliveries, card e-mails and the sweep that catches what a
lost message or a dead worker left behind.

Production: any number of `celery -A giftcards_project worker` processes and one
`celery -A giftcards_project beat` on the broker in `CELERY_BROKER_URL` (Redis; RabbitMQ's
`amqp://` works the same). Without it (the embedded default) the broker is a folder on disk
(kombu's filesystem transport), and `make run` starts one worker with the scheduler beside
the development server: no service to install. Every task works from rows in the database,
so a lost message only delays work until the next sweep.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftcards_project.settings")

app = Celery("giftcards_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["giftcards.events", "giftcards.imports", "giftcards.exports"])
