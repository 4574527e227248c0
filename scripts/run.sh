#!/usr/bin/env bash
# Prepare and start Korai for local development on SQLite (called by `make run`), split as
# production is (docs/deploying.md): .env from .env.example when missing, migrate, demo user +
# token, a local S3 store (moto), the clips sandbox, a steps server (KORAI_ROLE=steps: only
# /api/inngest, so a step waiting on a clips API never holds a thread the API needs) and, when
# npx can start it, the Inngest Dev Server pointed at that steps server (else the development
# executor, which stands in for it); then the API server (KORAI_ROLE=api). Every child is stopped
# on exit (Ctrl-C, kill, or the API server ending). When Korai (or anything) already answers at
# either address it says so and exits before touching anything. Every command runs manage.py
# with its default settings, korai.settings.development (devtools installed).
#
#   scripts/run.sh                 prepare and run
#   scripts/run.sh --prepare-only  prepare (idempotent) and exit
#
# Knobs (environment): KORAI_ADDR (127.0.0.1:8000, the API), KORAI_STEPS_ADDR (KORAI_ADDR's
# port + 1, /api/inngest), KORAI_LOCAL_S3 (1: start the local S3 store when AWS_S3_ENDPOINT_URL
# is local), KORAI_SANDBOX (1: start the clips sandbox), KORAI_DEVSERVER (1: try the Inngest Dev
# Server), KORAI_DEVSERVER_WAIT (seconds, 30), KORAI_DEV_EXECUTOR (1: without a Dev Server, run
# the development executor; the API server then gets 1 when it runs, else 0), KORAI_START_WAIT (seconds for the steps server to answer, 90).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
ADDR="${KORAI_ADDR:-127.0.0.1:8000}"
# The steps server sits next to the API by default (8000 -> 8001), as in deploy/gunicorn/.
STEPS_ADDR="${KORAI_STEPS_ADDR:-${ADDR%:*}:$((${ADDR##*:} + 1))}"
DEVSERVER_URL="http://127.0.0.1:8288"
LOG_DIR=artifacts/run
# While the development executor runs, its pid is here: commands run in another terminal
# (manage.py resend_events) read it (korai/settings/development.py) as KORAI_DEV_EXECUTOR_RUNNING.
DEV_EXECUTOR_PID="$LOG_DIR/dev-executor.pid"
children=()

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Stop a background child and everything it started (npx runs the Dev Server as a grandchild).
stop_tree() {
  local pid=$1 child
  for child in $(pgrep -P "$pid" 2>/dev/null || true); do
    stop_tree "$child"
  done
  kill -TERM "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  trap - EXIT INT TERM
  rm -f "$DEV_EXECUTOR_PID"
  for pid in "${children[@]+"${children[@]}"}"; do
    stop_tree "$pid"
  done
  wait 2>/dev/null || true
}

# Is something answering HTTP at $1? (Python, because curl is not guaranteed.)
answers() {
  "$PY" - "$1" <<'EOF' >/dev/null 2>&1
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass  # any HTTP answer means something listens there
EOF
}

# What listens at host:port $1: "korai" (its /api/inngest describes the app, or answers the
# API's JSON 404 in the api role), "other", or "" when nothing accepts connections there.
listener() {
  "$PY" - "$1" <<'EOF' 2>/dev/null || true
import json, socket, sys, urllib.error, urllib.request
host, port = sys.argv[1].rsplit(":", 1)
try:
    socket.create_connection((host, int(port)), timeout=1).close()
except OSError:
    sys.exit()
try:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/api/inngest", timeout=3) as answer:
            print("korai" if "function_count" in json.load(answer) else "other")
    except urllib.error.HTTPError as answer:
        print("korai" if answer.code == 404 and "code" in json.load(answer)["error"] else "other")
except Exception:
    print("other")
EOF
}

# Wait up to $2 seconds for $1 to answer while process $3 is alive.
wait_for() {
  local url=$1 deadline=$((SECONDS + $2)) pid=$3
  until answers "$url"; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.5
  done
}

# A second `make run` must not migrate the database the first one serves, nor fight it for the
# ports: check both before anything is created or changed.
if [ "${1:-}" != "--prepare-only" ]; then
  if [ "$STEPS_ADDR" = "$ADDR" ]; then
    say "KORAI_STEPS_ADDR is KORAI_ADDR ($ADDR): the steps server needs a port of its own."
    exit 1
  fi
  for addr in "$ADDR" "$STEPS_ADDR"; do
    case "$(listener "$addr")" in
      korai)
        say "Korai already runs on http://$addr: nothing was started or changed."
        echo "    Use that one, stop it first (Ctrl-C in its terminal), or pick other addresses:"
        echo "    KORAI_ADDR=127.0.0.1:8010 make run   (its steps server then takes 8011)"
        exit 1 ;;
      other)
        say "Another program listens on $addr: nothing was started or changed."
        echo "    Stop it, or pick other addresses: KORAI_ADDR=127.0.0.1:8010 (steps on 8011), or"
        echo "    KORAI_STEPS_ADDR=127.0.0.1:<free port> for the steps server alone"
        exit 1 ;;
    esac
  done
fi

if [ ! -f .env ]; then
  cp .env.example .env
  say "Created .env from .env.example (local development settings; edit it to change them)"
fi

say "Migrating the database"
"$PY" manage.py migrate --noinput
"$PY" manage.py setup_demo --base-url "http://$ADDR"

if [ "${1:-}" = "--prepare-only" ]; then
  exit 0
fi

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$LOG_DIR"
rm -f "$DEV_EXECUTOR_PID"  # left by a run that was killed

if [ "${KORAI_LOCAL_S3:-1}" = "1" ]; then
  say "Starting the local S3 store (log: $LOG_DIR/local-s3.log)"
  "$PY" manage.py local_s3 >"$LOG_DIR/local-s3.log" 2>&1 &
  s3=$!
  children+=("$s3")
  # It prints its address once its bucket exists, says why it is not needed, or dies.
  deadline=$((SECONDS + 30))
  until grep -q "listening on\|no local S3 store" "$LOG_DIR/local-s3.log" \
    || ! kill -0 "$s3" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; do
    sleep 0.2
  done
  if grep -q "listening on\|no local S3 store" "$LOG_DIR/local-s3.log"; then
    grep -m1 "listening on\|no local S3 store" "$LOG_DIR/local-s3.log" | sed 's/^/    /'
  else
    echo "    The local S3 store did not start; exports will fail until storage answers:"
    tail -n 3 "$LOG_DIR/local-s3.log" | sed 's/^/    /'
  fi
fi

if [ "${KORAI_SANDBOX:-1}" = "1" ]; then
  say "Starting the clips sandbox (log: $LOG_DIR/clips-sandbox.log)"
  "$PY" manage.py clips_sandbox >"$LOG_DIR/clips-sandbox.log" 2>&1 &
  sandbox=$!
  children+=("$sandbox")
  # It prints its address once it listens, or dies with the reason (e.g. the port is taken).
  deadline=$((SECONDS + 20))
  until grep -q "listening on" "$LOG_DIR/clips-sandbox.log" || ! kill -0 "$sandbox" 2>/dev/null \
    || [ "$SECONDS" -ge "$deadline" ]; do
    sleep 0.2
  done
  busy=$(sed -n 's/.*cannot listen on \([^ ]*\): .*/\1/p' "$LOG_DIR/clips-sandbox.log")
  if grep -q "listening on" "$LOG_DIR/clips-sandbox.log"; then
    sed -n 1p "$LOG_DIR/clips-sandbox.log" | sed 's/^/    /'
  elif [ -n "$busy" ] && answers "http://$busy/healthz"; then
    # Its port is taken by a sandbox started earlier (by hand, or by another checkout): use it.
    echo "    A clips sandbox already answers on http://$busy; using that one."
  else
    echo "    The clips sandbox did not start; identification will fail until the clips APIs answer:"
    tail -n 3 "$LOG_DIR/clips-sandbox.log" | sed 's/^/    /'
  fi
fi

say "Starting the steps server on http://$STEPS_ADDR (KORAI_ROLE=steps: /api/inngest only)"
# Production serves /api/inngest from its own pool (deploy/gunicorn/steps.py): a step waiting
# on a clips API must not hold a thread that polling needs. Its lines (step requests) print here.
KORAI_ROLE=steps "$PY" manage.py runserver "$STEPS_ADDR" &
steps=$!
children+=("$steps")
if ! wait_for "http://$STEPS_ADDR/healthz/" "${KORAI_START_WAIT:-90}" "$steps"; then
  say "The steps server did not answer on http://$STEPS_ADDR within ${KORAI_START_WAIT:-90}s"
  echo "    (see its output above; KORAI_START_WAIT gives it longer): stopping."
  exit 1
fi

devserver="unavailable"
if [ "${KORAI_DEVSERVER:-1}" != "1" ]; then
  devserver="disabled"
elif answers "$DEVSERVER_URL"; then
  devserver="already running"
elif ! command -v npx >/dev/null 2>&1; then
  devserver="npx not found: the Dev Server needs Node.js"
else
  say "Starting the Inngest Dev Server with npx (up to ${KORAI_DEVSERVER_WAIT:-30}s; log: $LOG_DIR/inngest-dev.log)"
  # --foreground-scripts: without it npm hides why inngest-cli's install script failed (it
  # downloads the Dev Server binary), and npx exits 1 saying nothing.
  npx --yes --foreground-scripts inngest-cli@latest dev -u "http://$STEPS_ADDR/api/inngest" --no-discovery \
    >"$LOG_DIR/inngest-dev.log" 2>&1 </dev/null &
  npx_pid=$!
  children+=("$npx_pid")
  if wait_for "$DEVSERVER_URL" "${KORAI_DEVSERVER_WAIT:-30}" "$npx_pid"; then
    devserver="started"
  else
    if kill -0 "$npx_pid" 2>/dev/null; then
      # Still busy (a first download can be slow): raising KORAI_DEVSERVER_WAIT may help.
      devserver="no answer within ${KORAI_DEVSERVER_WAIT:-30}s, see KORAI_DEVSERVER_WAIT"
      stop_tree "$npx_pid"
    else
      status=0
      wait "$npx_pid" || status=$?
      devserver="npx exited with status $status"
    fi
    # The first line that names an error says why (e.g. "getaddrinfo ENOTFOUND github.com");
    # else the last lines of its output.
    reason=$(grep -m1 -iE 'error|ERR!|ENOTFOUND|EAI_AGAIN|not found|denied' "$LOG_DIR/inngest-dev.log" || true)
    if [ -n "$reason" ]; then
      echo "    npx: ${reason:0:300}"
    elif [ -s "$LOG_DIR/inngest-dev.log" ]; then
      tail -n 5 "$LOG_DIR/inngest-dev.log" | sed 's/^/    npx: /'
    else
      echo "    npx printed nothing"
    fi
  fi
fi

export KORAI_DEV_EXECUTOR_RUNNING=0  # a .env's value never claims an executor this run lacks
case "$devserver" in
  started | "already running")
    say "Inngest Dev Server $devserver: $DEVSERVER_URL (runs, steps, events)"
    if [ "$devserver" = "already running" ]; then
      echo "    It calls the app where it was told to; for this one that is the steps server:"
      echo "    npx inngest-cli@latest dev -u http://$STEPS_ADDR/api/inngest"
    fi ;;
  *)
    say "No Inngest Dev Server ($devserver)."
    if [ "${KORAI_DEV_EXECUTOR:-1}" = "1" ]; then
      echo "    Starting the development executor instead: it stands in for Inngest, running each"
      echo "    event of the outbox through http://$STEPS_ADDR/api/inngest (the steps server), so"
      echo "    jobs complete (development only; not durable). Its log lines name devtools."
      # The API server then says the executor takes the events, and never POSTs to Inngest.
      export KORAI_DEV_EXECUTOR_RUNNING=1
      KORAI_ROLE=steps "$PY" manage.py dev_executor --url "http://$STEPS_ADDR" &
      children+=($!)
      echo $! >"$DEV_EXECUTOR_PID"
    else
      echo "    Korai still runs: every event is recorded in the outbox and nothing is lost."
      echo "    Start a Dev Server (npx inngest-cli@latest dev -u http://$STEPS_ADDR/api/inngest)"
      echo "    or set INNGEST_BASE_URL, then run: $PY manage.py resend_events"
    fi ;;
esac

say "Starting the API server on http://$ADDR (KORAI_ROLE=api; Ctrl-C stops everything)"
# In the background and waited for, so a signal to this script alone (kill <pid>) also runs the
# cleanup at once instead of waiting for runserver to end.
KORAI_ROLE=api "$PY" manage.py runserver "$ADDR" &
children+=($!)
wait "$!"
