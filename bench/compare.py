"""The figures a change must not make worse, measured for a baseline revision and for this
tree side by side in one run, interleaved, each with this tree's benchmark code:

    make bench-compare BASE=<revision>     # or: .venv/bin/python -m bench.compare <revision>

The baseline is checked out in a temporary git worktree, and this tree's `bench/` is copied
over its own, so both are measured the same way and only the product code differs. Each round
runs every figure once on each side, the side going first alternating by round, each in a
fresh process and a fresh database of its own (`korai_bench_base`, `korai_bench_head`). One
virtualenv serves both: a baseline with other dependencies is not compared.

Reported per figure: each side's median over the rounds, and head ÷ base (above 1: bigger)."""

import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from bench.common import PYTHON, ROOT, report

OUT = ROOT / "bench" / "out"

ROUNDS = 3
# Each benchmark's arguments: run once per side and round, every figure read from that run.
RUNS = {"poll": "", "steps": "30", "inflight": "100, one_pool_runs=0"}


class Figure(NamedTuple):
    name: str
    module: str
    path: tuple[str, ...]  # where in the benchmark's result
    better: str  # "higher" or "lower"

    def read(self, result: dict) -> float:
        return functools.reduce(lambda value, key: value[key], self.path, result)


FIGURES = [
    Figure("status endpoint ÷ bare view", "poll", ("ratio",), "higher"),
    Figure("Korai's handling of a durable run ÷ in-process", "steps", ("server_ratio",), "lower"),
    Figure("100 runs in flight: wall ÷ call", "inflight", ("split_pools", "wall_ratio"), "lower"),
    Figure("poll p99 while they run ÷ idle", "inflight", ("split_pools", "poll_ratio"), "lower"),
]
_MEASURE = """
import json
from bench.common import setup_django
setup_django(fresh=True)
from bench import {module}
print("BENCH-RESULT " + json.dumps({module}.main({args}), default=str))
"""


def main(base: str, rounds: int = ROUNDS) -> dict:
    sides = {"base": _checkout(base), "head": ROOT}
    figures = {figure.name: {"base": [], "head": []} for figure in FIGURES}
    try:
        for round_ in range(rounds):
            order = ["base", "head"] if round_ % 2 == 0 else ["head", "base"]
            for module, args in RUNS.items():
                for side in order:
                    result = _measure(sides[side], side, module, args)
                    for figure in FIGURES:
                        if figure.module == module:
                            figures[figure.name][side].append(figure.read(result))
    finally:
        _remove(sides["base"])
    lines = [
        f"baseline {base} against this tree, {rounds} rounds, interleaved",
        "| figure | base | head | head ÷ base | better | base, each round | head, each round |",
        "|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for figure in FIGURES:
        measured = figures[figure.name]
        base_median, head_median = (statistics.median(measured[side]) for side in ("base", "head"))
        summary[figure.name] = {**measured, "head_over_base": head_median / base_median}
        lines.append(
            f"| {figure.name} | {base_median:.2f} | {head_median:.2f} | "
            f"{head_median / base_median:.2f} | {figure.better} | "
            f"{_each(measured['base'])} | {_each(measured['head'])} |"
        )
    report("Side by side: a baseline revision and this tree", lines)
    OUT.mkdir(exist_ok=True)
    (OUT / "compare.json").write_text(json.dumps({"base": base, "figures": summary}, indent=2))
    return summary


def _each(values: list[float]) -> str:
    return " ".join(f"{value:.2f}" for value in values)


def _checkout(revision: str) -> Path:
    """The baseline in a temporary worktree, with this tree's benchmark code."""
    where = Path(tempfile.mkdtemp(prefix="korai-bench-base-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(where), revision],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    shutil.rmtree(where / "bench")
    shutil.copytree(ROOT / "bench", where / "bench", ignore=shutil.ignore_patterns("out"))
    return where


def _remove(worktree: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False)


def _measure(tree: Path, side: str, module: str, args: str) -> dict:
    database = f"postgres://postgres@127.0.0.1:5432/korai_bench_{side}"
    env = {**os.environ, "BENCH_DATABASE_URL": database, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [PYTHON, "-c", _MEASURE.format(module=module, args=args)],
        cwd=tree, env=env, capture_output=True, text=True,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH-RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"{module} on {side} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    print(f"{side} {module}: done", flush=True)
    return json.loads(lines[-1].removeprefix("BENCH-RESULT "))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m bench.compare <baseline revision> [rounds]")
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else ROUNDS)
