"""The two locks of pyproject.toml (`make lock`): requirements.txt, what production installs, and
requirements-dev.txt, that plus the dev extra. Each pins every package with `==` and hashes, is
complete (every dependency of what it lists is listed too), and agrees with pyproject.toml;
no test or lint tool is in the runtime lock, and the two locks share their versions. The
checks are tried on planted mistakes too, so a broken check cannot pass unnoticed."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = [Requirement(line) for line in PROJECT["dependencies"]]
DEV = [Requirement(line) for line in PROJECT["optional-dependencies"]["dev"]]
RUNTIME_LOCK = ROOT / "requirements.txt"
DEV_LOCK = ROOT / "requirements-dev.txt"

# Never in production, whichever list of pyproject.toml someone puts them in.
TEST_TOOLS = {
    canonicalize_name(name)
    for name in (
        "pytest",
        "pytest-django",
        "pytest-timeout",
        "factory-boy",
        "faker",
        "hypothesis",
        "schemathesis",
        "playwright",
        "ruff",
        "moto",
        "import-linter",
    )
} | {canonicalize_name(requirement.name) for requirement in DEV}

# The platform the locks are resolved for (the Makefile's LOCK_FLAGS): production's.
LOCK_ENVIRONMENT = {
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "python_version": "3.11",
}

ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)(?:\s*;[^-]*)?")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def entries(text: str) -> list[str]:
    """The lock's entries, one string each: continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", text)
    lines = (re.sub(r"(^|\s)#.*$", "", line).strip() for line in text.splitlines())
    return [line for line in lines if line]


def lock_problems(text: str) -> list[str]:
    """What is wrong with a lock's form: anything but `name==version --hash=... ...` entries."""
    problems = []
    for entry in entries(text):
        match = ENTRY.match(entry)
        if not match:
            problems.append(f"not pinned with ==: {entry[:80]}")
        elif not HASH.search(entry[match.end() :]):
            problems.append(f"no hash: {entry[:80]}")
    return problems


def pins(text: str) -> dict[str, str]:
    """Canonical name -> pinned version of every well-formed entry."""
    found = {}
    for entry in entries(text):
        if match := ENTRY.match(entry):
            found[canonicalize_name(match["name"])] = match["version"]
    return found


def not_pinned_as_in_pyproject(requirements: list[Requirement], locked: dict[str, str]) -> list:
    """pyproject.toml's requirements that are not pinned with one == each, or not at that
    version in the lock."""
    problems = []
    for requirement in requirements:
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==":
            problems.append(f"pyproject.toml does not pin {requirement} with one ==")
            continue
        name = canonicalize_name(requirement.name)
        if locked.get(name) != specifiers[0].version:
            problems.append(f"{requirement}: the lock has {locked.get(name)}")
    return problems


def missing_dependencies(requirements: list[Requirement], locked: dict[str, str]) -> set[str]:
    """Every package that the requirements need, transitively (extras included), and that the
    lock does not list, read from the installed packages' metadata."""
    missing, seen = set(), set()
    todo = [(canonicalize_name(r.name), frozenset(r.extras)) for r in requirements]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        if name not in locked:
            missing.add(name)
            continue
        for line in metadata.requires(name) or []:
            needed = Requirement(line)
            if needed.marker and not any(
                needed.marker.evaluate({**LOCK_ENVIRONMENT, "extra": extra})
                for extra in (extras or {""})
            ):
                continue
            todo.append((canonicalize_name(needed.name), frozenset(needed.extras)))
    return missing


def installed_as_locked(locked: dict[str, str]) -> bool:
    for name, version in locked.items():
        try:
            if metadata.version(name) != version:
                return False
        except metadata.PackageNotFoundError:
            return False
    return True


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=lambda path: path.name)
def test_every_entry_of_the_lock_is_pinned_with_hashes(lock):
    text = lock.read_text()
    assert "make lock" in text.split("\n\n")[0], "the header says how to regenerate the lock"
    assert pins(text), "an empty lock"
    assert lock_problems(text) == []


def test_no_test_or_lint_tool_is_in_the_runtime_lock():
    in_production = set(pins(RUNTIME_LOCK.read_text())) & TEST_TOOLS
    assert in_production == set()


def test_the_runtime_lock_pins_pyproject_dependencies_at_their_versions():
    assert not_pinned_as_in_pyproject(RUNTIME, pins(RUNTIME_LOCK.read_text())) == []


def test_the_dev_lock_pins_the_runtime_and_dev_dependencies_at_their_versions():
    assert not_pinned_as_in_pyproject(RUNTIME + DEV, pins(DEV_LOCK.read_text())) == []


def test_the_dev_lock_has_the_runtime_lock_at_the_same_versions():
    runtime, dev = pins(RUNTIME_LOCK.read_text()), pins(DEV_LOCK.read_text())
    assert {name: dev.get(name) for name in runtime} == runtime


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [(RUNTIME_LOCK, RUNTIME), (DEV_LOCK, RUNTIME + DEV)],
    ids=["requirements.txt", "requirements-dev.txt"],
)
def test_the_lock_lists_every_transitive_dependency(lock, requirements):
    locked = pins(lock.read_text())
    if not installed_as_locked(pins(DEV_LOCK.read_text())):
        pytest.skip("this environment was not installed from requirements-dev.txt")
    assert missing_dependencies(requirements, locked) == set()


PLANTED_HASH = "    --hash=sha256:" + "0" * 64


@pytest.mark.parametrize(
    ("planted", "problem"),
    [
        (f"pytest==9.2.0 \\\n{PLANTED_HASH}\n", None),
        ("pytest==9.2.0\n", "no hash"),
        (f"pytest>=9 \\\n{PLANTED_HASH}\n", "not pinned"),
        ("--index-url https://example.invalid/simple\n", "not pinned"),
    ],
    ids=["test-tool", "no-hash", "range", "option"],
)
def test_the_checks_catch_a_planted_mistake(planted, problem):
    text = RUNTIME_LOCK.read_text() + planted
    if problem:
        assert any(problem in found for found in lock_problems(text))
    else:
        assert lock_problems(text) == []
        assert "pytest" in set(pins(text)) & TEST_TOOLS


def test_the_pyproject_checks_catch_a_planted_mistake():
    locked = pins(RUNTIME_LOCK.read_text())
    assert not_pinned_as_in_pyproject([Requirement("Django==0.0.1")], locked)
    assert not_pinned_as_in_pyproject([Requirement("Django>=5")], locked)
    if not installed_as_locked(pins(DEV_LOCK.read_text())):
        pytest.skip("this environment was not installed from requirements-dev.txt")
    without_psycopg_binary = {k: v for k, v in locked.items() if k != "psycopg-binary"}
    psycopg = [r for r in RUNTIME if canonicalize_name(r.name) == "psycopg"]
    assert missing_dependencies(psycopg, without_psycopg_binary) == {"psycopg-binary"}
