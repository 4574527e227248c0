# Korai — `make run` starts the service on SQLite, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format migrations-check bench clean

# The virtualenv is rebuilt whenever requirements.txt changes.
$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
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

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
