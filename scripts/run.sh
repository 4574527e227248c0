#!/usr/bin/env bash
# Prepare and start Korai for local development on SQLite (called by `make run`).
set -euo pipefail
cd "$(dirname "$0")/.."

# Local development defaults; anything already in the environment or in .env wins.
export DJANGO_DEBUG="${DJANGO_DEBUG:-1}"
export INNGEST_DEV="${INNGEST_DEV:-1}"

.venv/bin/python manage.py migrate --noinput
exec .venv/bin/python manage.py runserver "${KORAI_ADDR:-127.0.0.1:8000}"
