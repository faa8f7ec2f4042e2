"""The project's settings, with the baselines' routes mounted beside the project's."""

from giftcards_project.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.http_bench.urls"
