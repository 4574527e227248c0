# Korai — `make run` starts the service on SQLite, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format migrations-check bench bench-compare lock clean

# Two locks, both compiled from pyproject.toml by `make lock`, every transitive version pinned
# with hashes: requirements.txt is the runtime set (what production installs: pip install
# --require-hashes -r requirements.txt), requirements-dev.txt is that set plus the dev extra
# (tests, lint, and moto for `make run`'s local S3) at the same versions. The virtualenv
# installs the dev lock, with pip alone, and is brought up to date whenever either lock changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	./scripts/run.sh

test: $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Models against migrations only: no database needed.
migrations-check: $(VENV)/.installed
	DJANGO_SETTINGS_MODULE=tests.settings DATABASE_URL=sqlite://:memory: \
		$(BIN)/python manage.py makemigrations --check --dry-run

# Every benchmark, side by side, on PostgreSQL (BENCH_DATABASE_URL, default the local
# korai_bench, which it drops and recreates);
# needs wrk (apt-get install wrk). Results: bench/out/results.json; see bench/README.md.
bench: $(VENV)/.installed
	@command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install wrk" >&2; exit 1; }
	$(BIN)/python -m bench.run_all

# The figures a change must not make worse, for BASE (a git revision) and this tree side by
# side, interleaved, with this tree's benchmark code (bench/compare.py; about 10 minutes).
bench-compare: $(VENV)/.installed
	@test -n "$(BASE)" || { echo "usage: make bench-compare BASE=<git revision>" >&2; exit 1; }
	@command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install wrk" >&2; exit 1; }
	$(BIN)/python -m bench.compare $(BASE)

# Regenerate both locks after editing [project] dependencies or the dev extra of pyproject.toml,
# then commit all three files. The compiler is uv, pinned, in a virtualenv of its own
# ($(LOCK_VENV)): only regenerating needs it, installing needs pip alone. A lock keeps its
# current pins wherever pyproject.toml still allows them; to move the transitive ones too:
# make lock LOCK_ARGS=--upgrade (or LOCK_ARGS='--upgrade-package NAME'). The dev lock is
# constrained by requirements.txt, so a package in both has one version. Resolved for
# production's platform (Linux x86_64, CPython 3.11) wherever it runs; the hashes cover every
# file of each pinned release.
UV_VERSION := 0.13.8
LOCK_VENV := .venv-lock
UV := $(LOCK_VENV)/bin/uv
LOCK_FLAGS := --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock"

$(UV):
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet uv==$(UV_VERSION)

lock: $(UV)
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) $(LOCK_ARGS) -o requirements.txt
	$(UV) pip compile pyproject.toml --extra dev -c requirements.txt $(LOCK_FLAGS) $(LOCK_ARGS) \
		-o requirements-dev.txt

clean:
	rm -rf $(VENV) $(LOCK_VENV) db.sqlite3 staticfiles .pytest_cache
