"""The floor plan holds: every job's app is its whole home, the shared packages below the apps
name no app, and no package grows into a second `core`. Each check also catches a violation
planted in a scratch tree, so it cannot pass by finding nothing to look at."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ("core", "integrations", "api", "outbox", "jobs")
APPS = ("videos", "exports", "clips", "webclient", "accounts", "operations", "inngest_endpoint")
# A module path or model label of an app ("videos.models", "exports.Export"), or an app's
# URL prefix.
NAMES_AN_APP = re.compile(rf"(^|[^\w/])({'|'.join(APPS)})\.[A-Za-z_]|/api/(clips|videos|exports)\b")
# Packages a size limit does not apply to: development stand-ins and benchmarks.
UNBOUNDED = ("bench", "devtools")
LARGEST_SHARE = 0.15


def app_names_below_the_apps(root: Path) -> list[str]:
    """`path:line: text` of each string (docstrings aside) in a shared package that names an app."""
    found = []
    for package in SHARED:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            docstrings = {
                id(node.body[0].value)
                for node in ast.walk(tree)
                if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
                and ast.get_docstring(node, clean=False) is not None
            }
            found += [
                f"{path.relative_to(root)}:{node.lineno}: {node.value!r}"
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and NAMES_AN_APP.search(node.value)
            ]
    return found


def package_shares(root: Path) -> dict[str, float]:
    """Each top-level package's share of the project's Python lines (tests aside)."""
    lines: dict[str, int] = {}
    for path in root.rglob("*.py"):
        relative = path.relative_to(root).parts
        if len(relative) < 2 or relative[0] in ("tests", ".venv") or relative[0].startswith("."):
            continue
        lines[relative[0]] = lines.get(relative[0], 0) + len(path.read_text().splitlines())
    total = sum(lines.values())
    return {package: count / total for package, count in lines.items()}


def test_no_shared_package_names_an_app():
    assert app_names_below_the_apps(ROOT) == []


def test_a_shared_module_naming_an_app_is_found(tmp_path):
    for package in SHARED:
        (tmp_path / package).mkdir()
    (tmp_path / "jobs" / "planted.py").write_text(
        '"""Docstrings may name videos.models."""\n'
        'MODEL = "exports.Export"\n'
        'PREFIX = "/api/clips/"\n'
    )
    assert app_names_below_the_apps(tmp_path) == [
        "jobs/planted.py:2: 'exports.Export'",
        "jobs/planted.py:3: '/api/clips/'",
    ]


def test_no_package_holds_more_than_its_share():
    shares = package_shares(ROOT)
    assert {"videos", "exports", "jobs", "core"} <= set(shares)
    too_big = {
        package: f"{share:.1%}"
        for package, share in shares.items()
        if package not in UNBOUNDED and share > LARGEST_SHARE
    }
    assert too_big == {}


def test_a_package_over_its_share_is_found(tmp_path):
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "a.py").write_text("x = 1\n" * 90)
    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "b.py").write_text("y = 2\n" * 10)
    assert package_shares(tmp_path) == {"big": 0.9, "small": 0.1}


def test_each_job_app_is_its_whole_home():
    for app in ("videos", "exports"):
        for module in ("models", "services", "selectors", "apis", "serializers", "urls", "admin"):
            assert (ROOT / app / f"{module}.py").is_file(), f"{app}/{module}.py"
        assert (ROOT / app / "functions.py").is_file()
