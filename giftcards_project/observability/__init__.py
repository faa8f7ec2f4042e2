"""Observability: request ids in every log line (JSON or plain), Prometheus metrics at
/metrics, and optional Sentry error reports with codes and credentials scrubbed.

`logs` imports neither Django nor prometheus_client (gunicorn's logger uses it); `sentry` is
imported only when SENTRY_DSN is set.
"""
