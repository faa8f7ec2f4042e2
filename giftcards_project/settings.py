"""Settings, all taken from the environment; the defaults give the embedded SQLite set-up."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from giftcards_project import client_errors, production_checks

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
# Production with a missing or weak secret, code key or host list stops here, in one line.
production_checks.enforce(os.environ)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "") or production_checks.DEVELOPMENT_KEY

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

# Gift card codes are stored encrypted (Fernet) and looked up by a keyed hash, both keys
# derived from GIFTCARD_CODE_KEY, which is independent of SECRET_KEY. Production must set it
# (deploy check giftcards.E001; nothing encrypts under an empty key). Debug mode falls back
# to a fixed, public development key: the same string as debug mode's default SECRET_KEY, so
# existing demo databases keep their codes readable (production refuses it, giftcards.E002).
# GIFTCARD_CODE_OLD_KEYS (comma separated) are earlier keys, still read, until
# `manage.py rotate_code_key` has moved everything to the current one (README: the code key).
DEVELOPMENT_CODE_KEY = "insecure-development-key-only-for-debug-mode"
GIFTCARD_CODE_KEY = os.environ.get("GIFTCARD_CODE_KEY", "") or (
    DEVELOPMENT_CODE_KEY if DEBUG else ""
)
GIFTCARD_CODE_OLD_KEYS = env_list("GIFTCARD_CODE_OLD_KEYS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "rest_framework_json_api",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    "clients",
    "giftcards",
]

MIDDLEWARE = [
    # First: every answer carries its request id (so does every log line meanwhile); timed.
    "giftcards_project.observability.requestid.RequestIdMiddleware",
    "giftcards_project.observability.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Database and cache outages -> 503 in each part's format, also from the middleware below.
    "giftcards_project.errors.OutageMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # NUL characters in query strings and /balance forms are 400s before anything reads them.
    "giftcards.input_guard.InputGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "giftcards.middleware.BusinessTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last: it answers a locked-out login attempt before the login view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "giftcards_project.urls"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "giftcards_project.wsgi.application"
ASGI_APPLICATION = "giftcards_project.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
        # A kept connection the server has dropped (restart, failover, idle timeout) is
        # checked before a request reuses it and replaced, instead of failing that request.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A threaded server writes from several connections at once. IMMEDIATE transactions
    # take the write lock at BEGIN (so a read-then-write never deadlocks into "database is
    # locked"), the busy timeout makes writers queue instead of failing, and WAL lets readers
    # carry on while one writer works.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file, not shared-cache memory, so threads lock it the way production does.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}
else:
    # One test database per test process, so parallel runs on one server never collide.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable server fails the request (a 503) in seconds, not after the OS gives up.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5"))
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "clients.User"
LOGIN_URL = "admin:login"

REDIS_URL = os.environ.get("REDIS_URL", "")
# Redis answers in well under a millisecond: an unreachable or stuck one must fail the call
# quickly (the throttles then fail open or closed) rather than hold a worker for the
# operating system's TCP timeouts. The client does not retry (redis-py's default for pools).
REDIS_CACHE_OPTIONS = {
    "socket_connect_timeout": float(os.environ.get("REDIS_CONNECT_TIMEOUT", "0.5")),
    "socket_timeout": float(os.environ.get("REDIS_SOCKET_TIMEOUT", "0.5")),
}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "giftcards"),
            "OPTIONS": REDIS_CACHE_OPTIONS,
        }
    }
else:
    # Per process: the throttles' limits then count each process apart (deploy check W001).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username or address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Staff login lockout (django-axes): after ADMIN_LOGIN_ATTEMPTS failures for one username, or
# from one client address, further attempts are refused for ADMIN_LOGIN_COOLOFF_MINUTES, the
# right password included. Attempts are rows in the database, so every server process shares
# them; a success resets the count.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = int(os.environ.get("ADMIN_LOGIN_ATTEMPTS", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("ADMIN_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "clients.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "clients.lockout.locked_out"
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Request bodies larger than this are refused before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["clients.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "api_key": os.environ.get("API_RATE", "6000/min"),
        "code_lookup": os.environ.get("CODE_LOOKUP_RATE", "30/min"),
    },
    "UNAUTHENTICATED_USER": None,
}

# The public balance page (/balance): lookups per client address per window, shared across
# processes through the cache; behind proxies, how many of them append to X-Forwarded-For.
BALANCE_CHECK_ATTEMPTS = int(os.environ.get("BALANCE_CHECK_ATTEMPTS", "10"))
BALANCE_CHECK_WINDOW = int(os.environ.get("BALANCE_CHECK_WINDOW", "600"))
BALANCE_CHECK_TRUSTED_PROXIES = int(os.environ.get("BALANCE_CHECK_TRUSTED_PROXIES", "0"))

# ---------------------------------------------------------------------------- events
# The outbox, webhooks and card e-mails (giftcards/events/), worked off by Celery
# (giftcards_project/celery.py).

# Where the service is reached from outside: the links in webhook payloads and e-mails.
SITE_URL = (os.environ.get("SITE_URL", "") or "http://127.0.0.1:8000").rstrip("/")

# Redis in production (`redis://127.0.0.1:6379/1`; RabbitMQ's `amqp://...` works too). Unset:
# a folder on disk, which needs no service (`make run` starts a worker and beat beside the
# development server).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "") or "filesystem://localhost//"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_folder = Path(os.environ.get("CELERY_BROKER_FOLDER", BASE_DIR / ".celery" / "broker"))
    _broker_folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_folder),
        "data_folder_out": str(_broker_folder),
        "control_folder": str(_broker_folder.parent / "control"),
        "store_processed": False,
        "polling_interval": 0.5,
    }
else:
    # Requests never wait for the broker (a thread of each process publishes the kicks:
    # giftcards/events/engine.py); a broker that does not answer fails that thread's call
    # quickly, and the sweep delivers later. Publishing is not retried.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": float(os.environ.get("CELERY_BROKER_CONNECT_TIMEOUT", "0.5")),
        "socket_timeout": float(os.environ.get("CELERY_BROKER_SOCKET_TIMEOUT", "5")),
    }
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("CELERY_BROKER_CONNECT_TIMEOUT", "0.5"))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(BASE_DIR / ".celery" / "beat-schedule")
)
# The queue the tasks go to: deployments (or test runs) sharing one broker keep apart by it.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "giftcards")
# Seconds between sweeps: fan out what no kick announced, queue due retries and what a dead
# worker left.
EVENTS_SWEEP_SECONDS = float(os.environ.get("EVENTS_SWEEP_SECONDS", "5"))
# How long a queued delivery or e-mail waits for its task before the sweep queues it again,
# and how long a worker may work on one (longer than a call can last: the webhook timeouts).
EVENTS_QUEUE_LEASE_SECONDS = float(os.environ.get("EVENTS_QUEUE_LEASE_SECONDS", "300"))
EVENTS_WORK_LEASE_SECONDS = float(os.environ.get("EVENTS_WORK_LEASE_SECONDS", "60"))
# Days that delivered webhook calls and their events are kept (giftcards/events/retention.py).
EVENTS_RETENTION_DAYS = int(os.environ.get("EVENTS_RETENTION_DAYS", "30"))
CELERY_BEAT_SCHEDULE = {
    "events-sweep": {"task": "giftcards.events.tasks.sweep", "schedule": EVENTS_SWEEP_SECONDS},
    "events-purge": {"task": "giftcards.events.tasks.purge", "schedule": 24 * 3600},
    "imports-sweep": {
        "task": "giftcards.imports.tasks.sweep",
        "schedule": float(os.environ.get("IMPORTS_SWEEP_SECONDS", "10")),
    },
}
# Imports (giftcards/imports/): how long a run may go without finishing a chunk before the
# sweep takes it to be dead and queues the import again (it resumes at its last chunk), and
# the largest request body POST /api/imports takes (the other routes take 256 KiB).
IMPORTS_LEASE_SECONDS = float(os.environ.get("IMPORTS_LEASE_SECONDS", "120"))
# Runs an import or an export may start before it is given up (interrupted): one whose runs
# keep dying (a bug, a row that kills the worker) is not retried forever.
BULK_JOB_MAX_ATTEMPTS = int(os.environ.get("BULK_JOB_MAX_ATTEMPTS", "5"))
# Days a finished import keeps its inputs (encrypted: they hold codes); its counts and logs
# stay.
IMPORTS_KEEP_INPUTS_DAYS = int(os.environ.get("IMPORTS_KEEP_INPUTS_DAYS", "30"))
IMPORTS_MAX_BODY_BYTES = int(os.environ.get("IMPORTS_MAX_BODY_BYTES", str(16 * 1024 * 1024)))

# Webhook calls (giftcards/events/egress.py): https to public addresses only. Loopback http
# (a receiver on this machine) is for development and tests; `check --deploy` refuses it.
WEBHOOK_ALLOW_LOOPBACK_HTTP = env_bool("WEBHOOK_ALLOW_LOOPBACK_HTTP", DEBUG)
WEBHOOK_DNS_TIMEOUT = float(os.environ.get("WEBHOOK_DNS_TIMEOUT", "2"))
WEBHOOK_CONNECT_TIMEOUT = float(os.environ.get("WEBHOOK_CONNECT_TIMEOUT", "3"))
# The whole call, from connecting to the last byte read: a slow receiver is cut off then.
WEBHOOK_TIMEOUT = float(os.environ.get("WEBHOOK_TIMEOUT", "10"))
# Consecutive failed calls that open a webhook's circuit (no calls until `_reset_circuit`).
WEBHOOK_CIRCUIT_THRESHOLD = int(os.environ.get("WEBHOOK_CIRCUIT_THRESHOLD", "30"))
# Retries: exponential from the base, capped, with jitter, until this long after the first
# failure.
WEBHOOK_RETRY_BASE_SECONDS = float(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "30"))
WEBHOOK_RETRY_CAP_SECONDS = float(os.environ.get("WEBHOOK_RETRY_CAP_SECONDS", "3600"))
WEBHOOK_RETRY_FOR_HOURS = float(os.environ.get("WEBHOOK_RETRY_FOR_HOURS", "25"))

# E-mail: cards sent to their recipients. The console in development; SMTP from the
# environment in production.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "gift-cards@localhost")

# ---------------------------------------------------------------------------- exports
# Files of cards, recipients or ledger rows written by a worker (giftcards/exports/), kept in
# the `exports` storage: a folder by default, S3 (or any S3-compatible store) when
# EXPORTS_STORAGE=s3. With several machines, every web and worker process must reach the
# same storage: one shared folder, or S3.
EXPORTS_STORAGE = os.environ.get("EXPORTS_STORAGE", "") or "filesystem"
EXPORTS_ROOT = Path(os.environ.get("EXPORTS_ROOT", "") or BASE_DIR / ".exports")
if EXPORTS_STORAGE == "s3":
    if not os.environ.get("EXPORTS_S3_BUCKET"):
        production_checks.refuse("EXPORTS_STORAGE=s3 needs EXPORTS_S3_BUCKET.")
    STORAGES["exports"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["EXPORTS_S3_BUCKET"],
            # Unset: AWS itself; set for MinIO, Ceph, R2, ... (`https://minio.internal:9000`).
            "endpoint_url": os.environ.get("EXPORTS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("EXPORTS_S3_REGION") or None,
            # Unset: boto3's own chain (AWS_* variables, an instance or pod role).
            "access_key": os.environ.get("EXPORTS_S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("EXPORTS_S3_SECRET_ACCESS_KEY") or None,
            "location": os.environ.get("EXPORTS_S3_PREFIX", "exports"),
            # Private objects, read only through the download view (which checks the key).
            "default_acl": "private",
            "file_overwrite": True,
            "addressing_style": os.environ.get("EXPORTS_S3_ADDRESSING_STYLE") or None,
        },
    }
elif EXPORTS_STORAGE == "filesystem":
    # Never served as static or media files. The files hold card data (full codes when asked
    # for): readable by this user only.
    STORAGES["exports"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": str(EXPORTS_ROOT),
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
else:
    production_checks.refuse(f"EXPORTS_STORAGE must be filesystem or s3, not {EXPORTS_STORAGE!r}.")
# Seconds a finished export's download link works; the file is removed after it.
EXPORTS_LINK_TTL = int(os.environ.get("EXPORTS_LINK_TTL", "3600"))
# Seconds between sweeps that queue the exports no message announced or a dead worker left;
# how long a queued export waits for its task, and a worker may go without renewing its lease
# (it renews it every 2,000 rows), before a sweep queues it again.
EXPORTS_SWEEP_SECONDS = float(os.environ.get("EXPORTS_SWEEP_SECONDS", "30"))
EXPORTS_QUEUE_LEASE_SECONDS = float(os.environ.get("EXPORTS_QUEUE_LEASE_SECONDS", "300"))
EXPORTS_WORK_LEASE_SECONDS = float(os.environ.get("EXPORTS_WORK_LEASE_SECONDS", "120"))
CELERY_BEAT_SCHEDULE["exports-sweep"] = {
    "task": "giftcards.exports.tasks.sweep",
    "schedule": EXPORTS_SWEEP_SECONDS,
}
# Expired files are removed within five minutes of their link's end.
CELERY_BEAT_SCHEDULE["exports-purge"] = {"task": "giftcards.exports.tasks.purge", "schedule": 300}

# /api/schema describes both APIs; /api/schema/plain and /api/schema/jsonapi one each
# (giftcards.api_docs). Swagger UI and Redoc are served from the sidecar's static files.
SPECTACULAR_SETTINGS = {
    "TITLE": "Gift card service",
    "DESCRIPTION": (
        "Two APIs over the same cards. The plain API (camelCase: /giftcards, /clients, "
        "/payments) and the JSON:API under /api/ (JSON:API 1.0, Commerce Layer's gift card "
        "resources, filters and errors). Guides: docs/ in the repository."
    ),
    "VERSION": "1.0.0",
    "PREPROCESSING_HOOKS": ["giftcards.plain_api.schema.plain_api_only"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "giftcards.plain_api.schema.seed_path_names",
        "giftcards.jsonapi.openapi.add_jsonapi",
    ],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # No online validator: Swagger UI's default is the public one at swagger.io, which a
    # layout with its badge calls with the document's address. deepLinking: the default.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    # HTTPS only, by default: plain HTTP is redirected and browsers are told to remember it for
    # a year. A deployment that terminates TLS elsewhere and must answer plain HTTP turns these
    # off from the environment. Probes of load balancers speak plain HTTP to the health checks.
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)

# LOG_FORMAT=json: one JSON object per line (time, level, logger, message, request_id, ...);
# else plain lines. Lines logged while a request is handled carry its id either way.
LOG_FORMAT = "json" if os.environ.get("LOG_FORMAT", "").strip().lower() == "json" else "plain"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "giftcards_project.observability.logs.PlainFormatter"},
        "json": {"()": "giftcards_project.observability.logs.JsonFormatter"},
    },
    # A refused request (403, 400) is a one-line warning, not a traceback; 5xx keep theirs.
    "filters": {
        "request_id": {"()": "giftcards_project.observability.logs.RequestIdFilter"},
        "one_line_client_errors": {"()": "giftcards.middleware.OneLineClientErrors"},
        # An outage (database, cache) fails every request alike: one line each, no traceback.
        "one_line_outages": {"()": "giftcards.outages.OneLineOutages"},
        # The development server's request lines, like gunicorn's access log, without codes.
        "redact_codes": {"()": "giftcards.middleware.RedactCodes"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Without Django's own console handler (debug mode only), which repeats each of its
        # lines as a bare message beside the formatted one.
        "django": {"handlers": [], "level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["one_line_client_errors", "one_line_outages"]},
        # A bad Host header, too many fields, ...: one WARNING line each, no traceback.
        **client_errors.security_loggers("one_line_client_errors"),
        "django.server": {
            "handlers": ["console"],
            "filters": ["redact_codes"],
            "level": "INFO",
            "propagate": False,
        },
    },
}

# ---------------------------------------------------------------------------- observability
# /metrics (giftcards_project/observability/): Prometheus' text format, for requests from
# these networks only (comma-separated CIDRs; empty: nobody), carrying
# `Authorization: Bearer <METRICS_TOKEN>` when that is set. PROMETHEUS_MULTIPROC_DIR (read by
# prometheus_client) adds up the counters of every process that shares that folder.
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
# With DEBUG off and no METRICS_TOKEN, /metrics answers only when the networks were named
# explicitly (a proxy on this machine may make every client look like loopback).
METRICS_NETWORKS_EXPLICIT = "METRICS_ALLOWED_NETWORKS" in os.environ
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Error reports to Sentry, scrubbed of codes and credentials; unset: the SDK is not loaded.
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    from giftcards_project.observability import sentry

    sentry.init(SENTRY_DSN)
