# `make test` and `make run` are the README's promise: each installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test faults run migrate demo clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# The fault-injection suite alone (docs/reliability.md); `make test` runs it too.
faults: $(STAMP)
	$(PY) -m pytest tests/faults $(PYTEST_ARGS)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py sentinel demo

# The Procfile's own processes on embedded defaults (SQLite, SQLAlchemy broker), on loopback.
# SENTINEL_BASE_URL is set once for all of them: honcho gives each process its own PORT
# (web PORT, worker PORT+100, ...), and the worker writes the links in messages.
run: demo
	@echo "Sentinel admin: http://127.0.0.1:$${PORT:-8000}/admin/  (Ctrl-C stops everything)"
	BIND=127.0.0.1 PORT=$${PORT:-8000} WORKER_MAX_CONCURRENCY=4 WORKER_MIN_CONCURRENCY=1 \
		SENTINEL_BASE_URL=$${SENTINEL_BASE_URL:-http://127.0.0.1:$${PORT:-8000}} \
		PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho -f Procfile start web worker beat

clean:
	rm -rf $(VENV) var
