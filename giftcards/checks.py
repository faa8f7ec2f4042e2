"""System checks: settings that would quietly weaken the guards around codes (guessing them,
reading them from a dump) or the delivery of events (`manage.py check --deploy`), and leases
too short for the work they cover (every check)."""

from django.conf import settings
from django.core import checks

PER_PROCESS_CACHES = ("locmem", "dummy")


@checks.register(checks.Tags.security, deploy=True)
def shared_throttle_cache(app_configs, **kwargs):
    backend = settings.CACHES["default"]["BACKEND"].lower()
    if any(name in backend for name in PER_PROCESS_CACHES):
        return [
            checks.Warning(
                "The cache is per process: the /balance and code-lookup throttles count each "
                "server process separately, multiplying the guesses allowed.",
                hint="Set REDIS_URL so every process shares the counts.",
                id="giftcards.W001",
            )
        ]
    return []


MIN_CODE_KEY_LENGTH = 32


@checks.register(checks.Tags.security, deploy=True)
def code_key(app_configs, **kwargs):
    """The code key encrypts and hashes every stored code, independently of SECRET_KEY."""
    current = getattr(settings, "GIFTCARD_CODE_KEY", "")
    if not current:
        return [
            checks.Error(
                "GIFTCARD_CODE_KEY is not set: gift card codes can be neither stored nor read.",
                hint=(
                    "Set GIFTCARD_CODE_KEY to a long random secret (for example "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`) and keep "
                    "it: stored codes are readable only with it (README: the code key). "
                    "Upgrading a database whose codes were keyed by DJANGO_SECRET_KEY: put that "
                    "secret key in GIFTCARD_CODE_OLD_KEYS, then run `manage.py rotate_code_key`."
                ),
                id="giftcards.E001",
            )
        ]
    found = []
    if not settings.DEBUG and current == getattr(settings, "DEVELOPMENT_CODE_KEY", None):
        found.append(
            checks.Error(
                "GIFTCARD_CODE_KEY is the public development key.",
                hint="Set a secret of your own and rotate to it (manage.py rotate_code_key).",
                id="giftcards.E002",
            )
        )
    elif len(current) < MIN_CODE_KEY_LENGTH:
        found.append(
            checks.Warning(
                f"GIFTCARD_CODE_KEY is shorter than {MIN_CODE_KEY_LENGTH} characters: a short "
                "key can be guessed, and with it every code from a database dump.",
                hint="Use a long random secret and rotate to it (manage.py rotate_code_key).",
                id="giftcards.W002",
            )
        )
    return found


@checks.register(checks.Tags.security, deploy=True)
def webhook_loopback(app_configs, **kwargs):
    """Loopback callbacks are for a developer's receiver: in production a webhook could make
    the service call its own machine's private services."""
    if getattr(settings, "WEBHOOK_ALLOW_LOOPBACK_HTTP", False) and not settings.DEBUG:
        return [
            checks.Error(
                "WEBHOOK_ALLOW_LOOPBACK_HTTP is on: webhooks may call services on this machine "
                "(loopback addresses, over plain http).",
                hint="Unset WEBHOOK_ALLOW_LOOPBACK_HTTP in production: callbacks go to public "
                "https addresses only.",
                id="giftcards.E003",
            )
        ]
    return []


@checks.register(checks.Tags.compatibility, deploy=True)
def events_plumbing(app_configs, **kwargs):
    """Webhooks and card e-mails need a broker every worker shares and a public address for
    the links they carry."""
    found = []
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        found.append(
            checks.Warning(
                "The task broker is a folder on this machine (CELERY_BROKER_URL is unset): only "
                "workers on this machine see the tasks.",
                hint="Set CELERY_BROKER_URL to Redis (redis://host:6379/1) and run workers and "
                "one beat against it (README: events and webhooks).",
                id="giftcards.W003",
            )
        )
    if settings.SITE_URL.startswith(("http://127.0.0.1", "http://localhost")):
        found.append(
            checks.Warning(
                f"SITE_URL is {settings.SITE_URL}: links in webhook payloads and card e-mails "
                "point at this machine's loopback address.",
                hint="Set SITE_URL to the service's public address (https://giftcards.example.com).",
                id="giftcards.W004",
            )
        )
    return found


LEASE_MARGIN_SECONDS = 5


@checks.register()
def event_leases(app_configs, **kwargs):
    """A worker's lease on a delivery or an e-mail must outlast the work, or the sweep hands
    it to another worker while the first is still calling (a second call at the same time)."""
    call = settings.WEBHOOK_DNS_TIMEOUT + settings.WEBHOOK_TIMEOUT + LEASE_MARGIN_SECONDS
    found = []
    if call > settings.EVENTS_WORK_LEASE_SECONDS:
        found.append(
            checks.Error(
                f"EVENTS_WORK_LEASE_SECONDS ({settings.EVENTS_WORK_LEASE_SECONDS:g}) is shorter "
                f"than a webhook call may last ({call:g} s: WEBHOOK_DNS_TIMEOUT, WEBHOOK_TIMEOUT "
                f"and {LEASE_MARGIN_SECONDS} s).",
                hint="Raise EVENTS_WORK_LEASE_SECONDS or lower the webhook timeouts.",
                id="giftcards.E004",
            )
        )
    # An SMTP session is a handful of exchanges, each allowed EMAIL_TIMEOUT.
    mail = 6 * settings.EMAIL_TIMEOUT
    if mail > settings.EVENTS_WORK_LEASE_SECONDS:
        found.append(
            checks.Warning(
                f"EVENTS_WORK_LEASE_SECONDS ({settings.EVENTS_WORK_LEASE_SECONDS:g}) is shorter "
                f"than a slow mail server may take ({mail:g} s: six exchanges of EMAIL_TIMEOUT): "
                "a card e-mail could be sent twice.",
                hint="Raise EVENTS_WORK_LEASE_SECONDS or lower EMAIL_TIMEOUT.",
                id="giftcards.W005",
            )
        )
    return found
