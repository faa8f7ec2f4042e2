# Two commands do everything on a fresh machine: `make run` and `make test`.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# requirements.txt: what production runs; requirements-dev.txt: that plus tests and tooling.
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
# Production's packages as wheels, kept so that tests/test_requirements.py can build a venv of
# requirements.txt alone without the network.
RUNTIME_WHEELS := $(VENV)/wheels/runtime
HOST ?= 127.0.0.1
PORT ?= 8000
# PostgreSQL run of the suite; pytest-django creates and drops test_giftcards on it.
PG_URL ?= postgres://postgres@127.0.0.1:5432/giftcards
PG_ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres
# The browser tests drive Debian's Chromium through Playwright (never `playwright install`).
CHROMIUM ?= /usr/bin/chromium
# pytest-xdist workers for the test runs: auto is one per CPU; PYTEST_WORKERS=0 runs in-process.
# Each worker has its own test database (pytest-django adds _gw0, _gw1, ... to its name).
PYTEST_WORKERS ?= auto

.PHONY: run test test-sqlite test-postgres lint install migrate bench chromium sdk bench-csv bench-export bench-import bench-http bench-events bench-throttle chaos fuzz multiprocess clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@rm -rf $(RUNTIME_WHEELS)
	$(PY) -m pip wheel --quiet -r requirements.txt -w $(RUNTIME_WHEELS)
	$(PY) -m pip install --quiet --no-index --find-links $(RUNTIME_WHEELS) -r requirements.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

# Beside the development server, one Celery worker with its scheduler delivers webhooks and
# card e-mails; with CELERY_BROKER_URL unset its broker is the folder .celery/ (no service to
# install). Both stop together.
run: migrate
	$(PY) manage.py load_demo
	@echo "Serving on http://$(HOST):$(PORT)/  (staff admin: http://$(HOST):$(PORT)/admin/)"
	@echo "Webhooks and card e-mails: a Celery worker and its scheduler run beside the server."
	@$(VENV)/bin/celery -A giftcards_project worker --beat --pool threads --concurrency 4 \
		--loglevel warning & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

# Installs Chromium for the browser tests when it is missing and apt-get can (root, or sudo
# without a password). Otherwise the browser tests skip loudly, or fail when CI is set.
chromium:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "== Installing Chromium for the browser tests =="; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		echo "== Installing Chromium for the browser tests =="; \
		sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif [ -n "$$CI" ]; then \
		echo "$(CHROMIUM) is missing and cannot be installed here; CI is set: failing." >&2; exit 1; \
	else \
		echo "!! $(CHROMIUM) is missing and cannot be installed here: the browser tests will be SKIPPED." >&2; \
	fi

# The Commerce Layer JS SDK check (tests/test_commerce_layer_sdk.py) needs Node.js 20 and the
# SDK pinned in tests/sdk/package-lock.json, installed from the npm registry. Without node it
# skips loudly, or fails when CI is set.
SDK_DIR := tests/sdk
sdk:
	@if ! command -v npm >/dev/null 2>&1; then \
		if [ -n "$$CI" ]; then echo "npm is missing and CI is set: failing." >&2; exit 1; fi; \
		echo "!! npm is missing: the Commerce Layer SDK check will be SKIPPED." >&2; \
	elif [ ! -f $(SDK_DIR)/node_modules/.package-lock.json ] || \
		[ $(SDK_DIR)/package-lock.json -nt $(SDK_DIR)/node_modules/.package-lock.json ]; then \
		echo "== Installing the Commerce Layer SDK (tests/sdk) =="; \
		cd $(SDK_DIR) && npm ci --no-audit --no-fund --silent; \
	fi

test-sqlite: install chromium sdk
	env -u DATABASE_URL $(PY) -m pytest -n $(PYTEST_WORKERS)

test-postgres: install chromium sdk
	@if $(PY) -c "import psycopg; psycopg.connect('$(PG_ADMIN_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== PostgreSQL run ($(PG_URL)) =="; \
		DATABASE_URL=$(PG_URL) $(PY) -m pytest -n $(PYTEST_WORKERS); \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL is unreachable at $(PG_ADMIN_URL) and CI is set: failing." >&2; exit 1; \
	else \
		echo "!! PostgreSQL is unreachable at $(PG_ADMIN_URL): SKIPPED the PostgreSQL run (CI fails here)." >&2; \
	fi

test: lint
	@echo "== SQLite run =="
	@$(MAKE) --no-print-directory test-sqlite
	@$(MAKE) --no-print-directory test-postgres

bench: install
	rm -f /tmp/giftcards-bench.sqlite3*
	$(PY) benchmarks/ledger_throughput.py
	$(PY) -c "import psycopg; c = psycopg.connect('$(PG_ADMIN_URL)', autocommit=True); \
		c.execute('DROP DATABASE IF EXISTS giftcards_bench'); c.execute('CREATE DATABASE giftcards_bench')"
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/giftcards_bench $(PY) benchmarks/ledger_throughput.py
	rm -f /tmp/giftcards-bench-sort.sqlite3*
	$(PY) benchmarks/jsonapi_sort_by_code.py
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/giftcards_bench $(PY) benchmarks/jsonapi_sort_by_code.py

# Peak memory of the admin's CSV export for 10,000 and 100,000 cards, on both engines.
bench-csv: install
	$(PY) tests/admin/bench_csv_export.py
	DATABASE_URL=$(PG_URL) $(PY) tests/admin/bench_csv_export.py

# Cards a second through an import beside a bulk insert of the same rows (PostgreSQL; re-creates
# the giftcards_bench_import database). BENCH_IMPORT_ARGS="--memory" adds import_giftcards'
# peak memory at 10,000 and 100,000 rows.
BENCH_IMPORT_ARGS ?=
bench-import: install
	$(PY) -c "import psycopg; c = psycopg.connect('$(PG_ADMIN_URL)', autocommit=True); \
		c.execute('DROP DATABASE IF EXISTS giftcards_bench_import'); \
		c.execute('CREATE DATABASE giftcards_bench_import')"
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/giftcards_bench_import \
		$(PY) benchmarks/import_throughput.py $(BENCH_IMPORT_ARGS)

# Peak memory and time of an export of 10,000 and 100,000 cards through the export worker, beside
# a raw cursor.execute + csv.writer of the same columns, on both engines (throwaway databases).
bench-export: install
	$(PY) benchmarks/export_memory.py
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/giftcards_bench_export $(PY) benchmarks/export_memory.py

# The service over HTTP (gunicorn, PostgreSQL, Redis) against hand-written baselines served by
# the same gunicorn; re-creates the giftcards_bench_http database. Figures, not assertions.
bench-http: install
	$(PY) -m benchmarks.http_bench --admin-url $(PG_ADMIN_URL)

# Webhook deliveries a second by real Celery workers (PostgreSQL, Redis, a receiver on
# 127.0.0.1) beside a plain loop posting the same signed bodies; re-creates the
# giftcards_bench_events database. BENCH_EVENTS_ARGS="--events 500 --rounds 1" for a short run.
BENCH_EVENTS_ARGS ?=
bench-events: install
	$(PY) -m benchmarks.events_throughput --admin-url $(PG_ADMIN_URL) $(BENCH_EVENTS_ARGS)

# Simultaneous code lookups against the 30/min throttle through gunicorn (4 workers x 4
# threads), PostgreSQL and Redis; re-creates the giftcards_bench_throttle database.
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/12
bench-throttle: install
	$(PY) -m benchmarks.throttle_burst --admin-url $(PG_ADMIN_URL) --redis-url $(BENCH_REDIS_URL)

# Money moves through both APIs under gunicorn (gunicorn.conf.py, pooled connections, Redis db
# 14) while its workers are killed and its database's backends terminated; re-creates the
# giftcards_chaos database and exits 1 when a check fails. CHAOS_ARGS=--short: the suite's run;
# `$(PY) -m benchmarks.chaos --help` lists the knobs (workers, threads, operations, ...).
CHAOS_ARGS ?=
chaos: install
	$(PY) -m benchmarks.chaos --admin-url $(PG_ADMIN_URL) $(CHAOS_ARGS)

# Two gunicorns (A and B) and a Celery worker with beat on one PostgreSQL database (re-created:
# giftcards_multiproc) and Redis db 9: debits through both APIs, the same Idempotency-Key sent
# to A and B at once, the code-lookup throttle counted across both, an admin session signed in
# on A and used on B, webhook calls once each. Prints a table; exits 1 on any violation.
# MULTIPROC_ARGS=--short: the suite's size (tests/test_multiprocess.py).
MULTIPROC_ARGS ?=
MULTIPROC_REDIS_URL ?= redis://127.0.0.1:6379/9
multiprocess: install
	$(PY) -m benchmarks.multiprocess --admin-url $(PG_ADMIN_URL) --redis-url $(MULTIPROC_REDIS_URL) $(MULTIPROC_ARGS)

# Both APIs fuzzed over HTTP (gunicorn, PostgreSQL): schemathesis on each API's OpenAPI document
# (/api/schema/plain, /api/schema/jsonapi: every phase, at least 10,000 requests each) and the
# JSON:API fuzzer (benchmarks/fuzz/jsonapi.py), together; re-creates the giftcards_fuzz_http
# database. Fails on any 5xx, server traceback or answer that does not match its document.
# FUZZ_ARGS=--quick: short (the suite runs a short schemathesis run too: tests/test_schemathesis.py).
fuzz: install
	$(PY) -m benchmarks.fuzz --admin-url $(PG_ADMIN_URL) $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* .test-db.sqlite3* staticfiles test-artifacts
