"""Fixtures for the observability tests: a plain API client of `business`, one of its
clients, a scrape of /metrics read back as numbers."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client as HttpClient
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from clients.services import client_create
from tests.giftcards.plain_api.helpers import api_client


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _metrics_networks_named(settings):
    """As a deployment that set METRICS_ALLOWED_NETWORKS (DEBUG is off in tests): /metrics
    answers allowed networks without a token."""
    settings.METRICS_NETWORKS_EXPLICIT = True


@pytest.fixture
def api(api_key) -> APIClient:
    return api_client(api_key[1])


@pytest.fixture
def customer(tenant, actor):
    return client_create(tenant=tenant, actor=actor, first_name="Ada", last_name="Lovelace")


def parse(text: str) -> dict[tuple, float]:
    """{(sample name, (label pairs sorted)): value} of a Prometheus text exposition."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


@pytest.fixture
def scrape():
    """GET /metrics from loopback (the default allowed network): the samples, parsed."""

    def scrape(**extra) -> dict[tuple, float]:
        response = HttpClient().get("/metrics", **extra)
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain")
        return parse(response.content.decode())

    return scrape


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
