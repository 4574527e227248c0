"""The layering contracts of pyproject.toml (`lint-imports`, run by CI) hold for the code, and
each one catches a violation planted on purpose in a copy of the project."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]

# A module to plant, and the contract that must then fail.
VIOLATIONS = {
    "outbox/planted.py": (
        "import videos.models\n",
        "The job package, the API glue, the integrations and the outbox import no app",
    ),
    "jobs/planted.py": (
        "import exports.models\n",
        "The job package, the API glue, the integrations and the outbox import no app",
    ),
    "api/planted.py": (
        "import webclient.errors\n",
        "The job package, the API glue, the integrations and the outbox import no app",
    ),
    "integrations/planted.py": (
        "import clips.models\n",
        "The job package, the API glue, the integrations and the outbox import no app",
    ),
    "core/planted.py": ("import jobs.lifecycle\n", "core imports nothing of Korai"),
    "videos/planted.py": (
        "import operations.dashboard\n",
        "Apps do not import the operations layer",
    ),
    "accounts/planted.py": ("import korai.urls\n", "Nothing imports the configuration package"),
    "exports/planted.py": (
        "import devtools.sandbox\n",
        "Product code never imports the development stand-ins",
    ),
    # Against the layers: clips is below videos, the outbox below the job package.
    "clips/planted.py": ("import videos.selectors\n", "Layers point one way"),
    "integrations/planted_outbox.py": ("import outbox.models\n", "Layers point one way"),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The product packages and pyproject.toml, copied (the working tree stays untouched)."""
    copy = tmp_path_factory.mktemp("layers")
    for package in CONFIG["root_packages"]:
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _lint(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_code_keeps_every_contract(project):
    result = _lint(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken" in result.stdout


@pytest.mark.parametrize("path", sorted(VIOLATIONS))
def test_a_planted_violation_breaks_its_contract(project, path):
    source, contract = VIOLATIONS[path]
    planted = project / path
    planted.write_text(source)
    try:
        result = _lint(project)
    finally:
        planted.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [line for line in result.stdout.splitlines() if "BROKEN" in line]
    assert any(contract in line for line in broken), result.stdout
