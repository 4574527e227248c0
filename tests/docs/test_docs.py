"""The README and docs/ against the code: what the code can check, a test checks, so the docs
cannot drift (the front door's size and opening, links, the functions served, every environment
variable, no history)."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
CONFIGURATION = ROOT / "docs" / "configuration.md"
JOBS = ROOT / "docs" / "jobs.md"
ENV_EXAMPLE = ROOT / ".env.example"

# Where the code reads its environment: the configuration, the deployment configs, the scripts
# and every product package (and the development tools), both those named here and any the
# import-linter contracts know. `bench/` is left out: its one variable of its own,
# BENCH_DATABASE_URL, belongs to bench/README.md (docs/configuration.md names it); `tests/` sets
# variables for the suite rather than reading configuration.
PACKAGES = [
    "korai",
    "operations",
    "webclient",
    "exports",
    "videos",
    "clips",
    "accounts",
    "inngest_endpoint",
    "jobs",
    "api",
    "outbox",
    "integrations",
    "core",
    "devtools",
]
_LINTED = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
PYTHON_SOURCES = sorted(
    {"manage.py", "deploy", *PACKAGES, *_LINTED["root_packages"]} - {"bench", "tests"}
)
SHELL_SOURCES = ["scripts/*.sh", ".ci/run"]

# Variables the code reads that need not be in .env.example, each with its reason. (Standard
# variables read by libraries, such as AWS_ACCESS_KEY_ID, are still listed in both.)
EXEMPT_FROM_ENV_EXAMPLE: dict[str, str] = {}
# Variables docs/configuration.md lists in a table that no scanned source reads, with why.
DOCUMENTED_BUT_NOT_SCANNED: dict[str, str] = {}

# Bash's own variables: read, never set by the scripts, and not configuration.
SHELL_BUILTINS = {"SECONDS", "RANDOM", "LINENO", "PWD", "HOME", "PATH", "UID", "EUID", "BASHPID"}

NAME = r"([A-Z][A-Z0-9_]*)"
PYTHON_READS = [
    # django-environ: env("X"), env.str("X"), env.list(\n "X", ...), env.db("X") ...
    re.compile(r"\benv(?:\.\w+)?\(\s*[\"']" + NAME + r"[\"']"),
    re.compile(r"\bos\.environ(?:\.get|\.setdefault|\.pop)?\(\s*[\"']" + NAME + r"[\"']"),
    re.compile(r"\bos\.environ\[\s*[\"']" + NAME + r"[\"']\s*\]"),
    re.compile(r"\bos\.getenv\(\s*[\"']" + NAME + r"[\"']"),
    re.compile(r"[\"']" + NAME + r"[\"']\s+(?:not\s+)?in\s+os\.environ\b"),
]
SHELL_WITH_DEFAULT = re.compile(r"\$\{" + NAME + r":?[-=]")
SHELL_REFERENCE = re.compile(r"\$\{?" + NAME)

HISTORY = [
    re.compile(r"\bissue \d+", re.IGNORECASE),
    # An issue or pull-request number ("#15 "), not a colour ("#0DE050").
    re.compile(r"(?<![\w#&])#\d{1,5}\b(?![0-9A-Fa-f])"),
    re.compile(r"\bround (?:one|two|three|four|\d+)\b", re.IGNORECASE),
    re.compile(r"\bthe seed\b", re.IGNORECASE),
    re.compile(r"\bused to\b", re.IGNORECASE),
]

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    """The text without fenced blocks and inline code: where links are links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        anchors.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return anchors


def _python_files():
    for source in PYTHON_SOURCES:
        path = ROOT / source
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from (p for p in path.rglob("*.py") if "migrations" not in p.parts)


def _shell_files():
    for pattern in SHELL_SOURCES:
        yield from (p for p in ROOT.glob(pattern) if p.is_file())


def _variables_read() -> dict[str, set[str]]:
    """Every environment variable the scanned sources read: name -> files reading it."""
    found: dict[str, set[str]] = {}
    for path in _python_files():
        text = path.read_text()
        for pattern in PYTHON_READS:
            for name in pattern.findall(text):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    for path in _shell_files():
        text = path.read_text()
        assigned = set(re.findall(r"(?:^|[\s;(])(?:export\s+|local\s+)?" + NAME + r"=", text))
        names = set(SHELL_WITH_DEFAULT.findall(text))
        names |= set(SHELL_REFERENCE.findall(text)) - assigned - SHELL_BUILTINS
        for name in names:
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def _table_rows(text: str) -> list[list[str]]:
    """The cells of a Markdown table's body rows (header and separator left out)."""
    rows = [line for line in text.splitlines() if line.lstrip().startswith("|")]
    cells = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]
    return [row for row in cells[2:] if row and not set(row[0]) <= set("-: ")]


# --- the README -------------------------------------------------------------------------------


def test_readme_is_the_front_door_under_250_lines():
    lines = README.read_text().splitlines()
    assert len(lines) < 250, f"README.md has {len(lines)} lines: move a subject to docs/"


def test_readme_opens_with_the_two_commands():
    text = README.read_text()
    first_block = re.search(r"^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert first_block, "README.md has no ```sh block"
    before = text[: first_block.start()]
    assert "\n## " not in before, "the two commands come before the first section"
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make run", "make test"]


def test_readme_map_names_every_top_level_package():
    packages = sorted(
        p.name
        for p in ROOT.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / "__init__.py").exists()
    )
    text = README.read_text()
    missing = [name for name in packages if f"`{name}/`" not in text]
    assert not missing, f"packages missing from the README's map: {missing}"


# --- links ------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_an_existing_file(page):
    broken = []
    for target in LINK.findall(_prose(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: …
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


# --- the functions served ---------------------------------------------------------------------


def _documented_functions() -> list[list[str]]:
    text = JOBS.read_text()
    match = re.search(
        r"<!-- served-functions:start -->(.*?)<!-- served-functions:end -->", text, re.DOTALL
    )
    assert match, "docs/jobs.md has no table between the served-functions markers"
    return _table_rows(match.group(1))


def _served_ids() -> set[str]:
    from korai.urls import FUNCTIONS

    return {getattr(fn, "local_id", None) or fn._opts.local_id for fn in FUNCTIONS}


def test_docs_name_exactly_the_functions_served():
    documented = {re.search(r"`([^`]+)`", row[0]).group(1) for row in _documented_functions()}
    assert documented == _served_ids()


def test_readme_names_every_function_served():
    text = README.read_text()
    missing = sorted(fn for fn in _served_ids() if f"`{fn}`" not in text)
    assert not missing, f"README.md does not name {missing}"


def test_every_step_the_docs_name_is_a_step_id_of_its_function():
    """Each step id in the table's steps column is a string in the functions module the first
    column names (`videos/functions.py`)."""
    for row in _documented_functions():
        module = re.search(r"`([\w/]+\.py)`", row[0])
        assert module, f"name the functions module in {row[0]!r}"
        source = (ROOT / module.group(1)).read_text()
        for step in re.findall(r"`([a-z][a-z0-9-]+)`", row[2]):
            assert f'"{step}"' in source, f"{step} is not a step of {module.group(1)}"


# --- environment variables --------------------------------------------------------------------


def test_the_scan_finds_the_variables_we_know():
    read = _variables_read()
    for name in ("DATABASE_URL", "INNGEST_DEV", "KORAI_TARGET_LANGUAGES", "KORAI_API_BIND"):
        assert name in read, f"the scan missed {name}: fix the patterns"
    assert "KORAI_ADDR" in read and "ADDR" not in read  # run.sh's knob, not its local variable


def test_every_variable_the_code_reads_is_in_env_example():
    example = ENV_EXAMPLE.read_text()
    missing = {
        name: sorted(files)
        for name, files in sorted(_variables_read().items())
        if name not in EXEMPT_FROM_ENV_EXAMPLE
        and not re.search(rf"^[#\s]*{name}=", example, re.MULTILINE)
    }
    assert not missing, f"read by the code, missing from .env.example: {missing}"


def test_every_variable_the_code_reads_is_in_the_configuration_reference():
    reference = CONFIGURATION.read_text()
    missing = {
        name: sorted(files)
        for name, files in sorted(_variables_read().items())
        if f"`{name}`" not in reference
    }
    assert not missing, f"read by the code, missing from docs/configuration.md: {missing}"


def test_the_configuration_reference_lists_only_variables_the_code_reads():
    read = _variables_read()
    listed = {
        re.search(r"`([A-Z][A-Z0-9_]*)`", row[0]).group(1)
        for row in _table_rows(CONFIGURATION.read_text())
        if re.search(r"`([A-Z][A-Z0-9_]*)`", row[0])
    }
    stale = sorted(listed - read.keys() - DOCUMENTED_BUT_NOT_SCANNED.keys())
    assert not stale, f"docs/configuration.md lists variables nothing reads: {stale}"


# --- the code as it is ------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_describe_the_code_as_it_is_not_its_history(page):
    text = page.read_text()
    found = [m.group(0) for pattern in HISTORY for m in pattern.finditer(text)]
    assert not found, f"{page.relative_to(ROOT)}: {found}"


# `python manage.py` is only the virtualenv's Python after `source .venv/bin/activate`: the docs
# give the form that works from any shell. Quoted product messages and the README's one sentence
# that says so keep the bare form.
BARE_MANAGE_PY = re.compile(r"(?<![/\w])python manage\.py")
QUOTED = re.compile(r'"[^"\n]*(?:\n[^"\n]*){0,3}"')


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_manage_py_commands_run_with_the_virtualenvs_python(page):
    text = QUOTED.sub("", page.read_text())
    if page == README:
        text = text.replace("bare `python manage.py …` works only after", "")
    lines = [line for line in text.splitlines() if BARE_MANAGE_PY.search(line)]
    assert lines == [], f"say `.venv/bin/python manage.py` in {page.name}"
