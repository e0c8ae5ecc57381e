# The two set-up commands of the README: `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TEST_ENV := DEBUG=False DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tradeops} \
	REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} \
	SECRET_KEY=test-only-secret-key SECURE_SSL_REDIRECT=False

# `make demo PORT=8001` serves elsewhere; `make demo RESET=1` empties the database first and
# loads the demo afresh (its history ends today).
PORT ?= 8000
RESET ?=
# The demo's alert and digest links lead where it is served (PORT), unless .env sets its own.
DEMO_ENV = $(if $(shell grep -Es '^(export )?TRADEOPS_BASE_URL=' .env 2>/dev/null),,TRADEOPS_BASE_URL=http://127.0.0.1:$(PORT))

.PHONY: demo test install

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The demo runs on the settings of .env, as the docs' manage.py commands do: whatever runs in
# one runs in the other. A .env that does not set DEBUG gets DEBUG=True (the embedded default).
# run_embedded is the development server with the schedule running in its process (no Redis).
demo: $(STAMP)
	grep -Eqs '^(export )?DEBUG=' .env || printf '\nDEBUG=True\n' >> .env
	$(PY) manage.py migrate --noinput
	$(if $(RESET),$(PY) manage.py flush --noinput)
	$(DEMO_ENV) $(PY) manage.py load_demo --url http://127.0.0.1:$(PORT)/admin/
	$(DEMO_ENV) $(PY) manage.py run_embedded 127.0.0.1:$(PORT)

test: $(STAMP)
	bash .ci/services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(TEST_ENV) $(VENV)/bin/pytest
