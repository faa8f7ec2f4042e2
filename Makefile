# Two commands do everything on a fresh machine: `make run` and `make test`.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
# PostgreSQL run of the suite; pytest-django creates and drops test_giftcards on it.
PG_URL ?= postgres://postgres@127.0.0.1:5432/giftcards
PG_ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: run test test-sqlite test-postgres lint install migrate bench clean

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py load_demo
	@echo "Serving on http://$(HOST):$(PORT)/  (staff admin: http://$(HOST):$(PORT)/admin/)"
	$(PY) manage.py runserver $(HOST):$(PORT)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

test-sqlite: install
	env -u DATABASE_URL $(PY) -m pytest

test-postgres: install
	@if $(PY) -c "import psycopg; psycopg.connect('$(PG_ADMIN_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== PostgreSQL run ($(PG_URL)) =="; \
		DATABASE_URL=$(PG_URL) $(PY) -m pytest; \
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

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* .test-db.sqlite3* staticfiles test-artifacts
