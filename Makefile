# kluis — two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MANAGE := $(PY) manage.py
TEST_ENV := KLUIS_VAR_DIR=$(CURDIR)/var/test
# worksteal: an idle worker takes tests queued for the other, so no long test ends the run alone.
PYTEST_ARGS ?= -n 2 --dist worksteal

.PHONY: install run serve load drill-pg demo test lint typecheck pytest pytest-again bench browser messages static screenshots clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("kluis needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

messages: $(STAMP)
	$(MANAGE) compilemessages --ignore=.venv --ignore=node_modules -v0

# The stylesheet under its content-hashed name, with its manifest, for WhiteNoise.
static: $(STAMP)
	$(MANAGE) collectstatic --noinput -v0

# Set up (idempotent), load the demo data, and serve on http://127.0.0.1:8000.
run: install messages static
	$(MANAGE) migrate -v0
	$(MANAGE) migrate --database keystore -v0
	$(MANAGE) demo_data
	$(MANAGE) worker & worker=$$!; \
	$(MANAGE) mollie_local & provider=$$!; \
	$(MANAGE) epp_local --held-elsewhere verhuis-demo.nl:Verhuis2026 --held-elsewhere verhuis-demo.com:Verhuis2026 --transfer-approve-after 120 & registry=$$!; \
	trap 'kill $$worker $$provider $$registry 2>/dev/null' EXIT INT TERM; \
	KLUIS_ALLOWLIST_LOCAL=1 $(MANAGE) runserver 127.0.0.1:8000

# kluis the production way on http://127.0.0.1:8001: KLUIS_DEBUG=0, gunicorn and the worker,
# with local secrets generated into var/serve (scripts/serve says which values it sets).
serve: install messages
	sh scripts/serve

# Load: make serve under locust (bench/locustfile.py), then reconciled; slow, not in `make test`.
load: install messages
	sh scripts/load

# The PostgreSQL drills on a private cluster in a temporary directory (scripts/drill-pg):
# connections killed, backup and restore with shreds replayed, a restart under a writer,
# a full disk under a tablespace and under pg_wal. DRILL_STEPS="3 4" runs only those.
drill-pg: install messages
	sh scripts/drill-pg

# The README's screenshots (docs/*.png), desktop and phone, from a fresh demo.
SHOTS_ENV := KLUIS_VAR_DIR=$(CURDIR)/var/screenshots
screenshots: install messages static browser
	rm -rf var/screenshots
	$(SHOTS_ENV) $(MANAGE) migrate -v0
	$(SHOTS_ENV) $(MANAGE) migrate --database keystore -v0
	$(SHOTS_ENV) $(MANAGE) demo_data > /dev/null
	$(SHOTS_ENV) DJANGO_SETTINGS_MODULE=kluis.settings $(PY) scripts/screenshots.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	KLUIS_BENCH=1 $(VENV)/bin/mypy kluis bench

browser:
	@sh scripts/ensure-chromium
	@sh scripts/ensure-nginx
	@sh scripts/ensure-nftables

pytest: install messages browser
	$(TEST_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

# The suite again, its set-up (install, messages, browser) already done: CI's second pass.
pytest-again:
	$(TEST_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install messages
	KLUIS_VAR_DIR=$(CURDIR)/var/bench $(PY) -m bench

clean:
	rm -rf var/test var/bench .pytest_cache .mypy_cache .ruff_cache
