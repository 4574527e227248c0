"""Every change of a job's status goes through `jobs.lifecycle.transition`: no other product
module assigns `.status`, passes `status=` to an update, or sets it with setattr."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = (
    "core",
    "outbox",
    "videos",
    "clips",
    "exports",
    "accounts",
    "operations",
    "webclient",
)
LIFECYCLE = ROOT / "core" / "lifecycle.py"


def status_writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == "status":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} assigns .status")
        is_update = isinstance(node, ast.Call) and getattr(node.func, "attr", None) in (
            "update",
            "bulk_update",
            "update_or_create",
        )
        if is_update and any(keyword.arg == "status" for keyword in node.keywords):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} updates status")
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} uses setattr")
    return found


def test_only_the_lifecycle_writes_a_jobs_status():
    writes = [
        write
        for package in PRODUCT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != LIFECYCLE and "migrations" not in path.parts
        for write in status_writes(path)
    ]
    assert writes == []


def test_the_check_finds_a_status_written_elsewhere(tmp_path):
    module = tmp_path / "rogue.py"
    module.write_text(
        "def f(job, Video):\n"
        "    job.status = 'completed'\n"
        "    Video.objects.filter(pk=1).update(status='failed')\n"
    )
    original_root = globals()["ROOT"]
    globals()["ROOT"] = tmp_path
    try:
        assert status_writes(module) == [
            "rogue.py:2 assigns .status",
            "rogue.py:3 updates status",
        ]
    finally:
        globals()["ROOT"] = original_root
