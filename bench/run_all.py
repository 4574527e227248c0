"""Run every benchmark in one go and write the figures to bench/out/results.json.

make bench            # or: .venv/bin/python -m bench.run_all
"""

import json
import platform
import subprocess
import time
from pathlib import Path

from bench import cancel, exports, inflight, instances, paid, poll, scale, steps, submit
from bench.common import setup_django

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    started = time.monotonic()
    setup_django(fresh=True)  # every run starts from an empty, freshly migrated database
    results = {"machine": _machine()}
    benchmarks = {
        "polling": poll.main,
        # Before the benchmarks that leave undelivered events in the outbox.
        "cancellation": lambda: cancel.main(rounds=5),
        "submission": lambda: submit.main(requests_per_mode=200),
        "durable_steps": lambda: steps.main(runs=30),
        "exports": exports.main,
        "gpu_runs_paid": paid.main,
        "steps_in_flight": lambda: inflight.main(runs=100),
        "two_instances": instances.main,
        "scale": scale.main,
    }
    seconds = {}
    for name, run in benchmarks.items():
        began = time.monotonic()
        results[name] = run()
        seconds[name] = round(time.monotonic() - began, 1)
    results["seconds_each"] = seconds
    results["seconds"] = round(time.monotonic() - started, 1)
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"Seconds each: {seconds}")
    print(f"All benchmarks done in {results['seconds']} s; figures in {OUT / 'results.json'}")


def _machine() -> dict:
    def run(*command):
        return subprocess.run(command, capture_output=True, text=True).stdout.strip()

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in run("lscpu").splitlines()
            if "Model name" in line
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": run("nproc"),
        "python": platform.python_version(),
        "postgresql": run("psql", "--version"),
        "wrk": run("wrk", "--version").splitlines()[0] if run("which", "wrk") else "missing",
    }


if __name__ == "__main__":
    main()
