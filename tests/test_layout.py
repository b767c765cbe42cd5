"""The house rules a reader should not have to remember, checked over the source text:
one clock, no registration by module names, only ``huituan.`` imports, and a repository that
explains itself (docs/ARCHITECTURE.md, nothing pointing outside it)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = sorted(set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
                          ["tool"]["setuptools"]["package-dir"].values()))
GENERIC_NAMES = {"core", "models", "services", "bot", "jobs", "posters", "miniapp_api"}
# Written in pieces so that this file does not trip its own check.
OUTSIDE_DOC_NAMES = ("DESIGN" + ".md", ".." + "/shared")


def _py_files(*folders: str) -> list[Path]:
    files = []
    for folder in folders:
        files += [p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts]
    return sorted(files)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_folders_are_found():
    assert {"core", "models", "services", "huituan"} <= set(PACKAGE_DIRS)
    assert len(_py_files(*PACKAGE_DIRS)) > 100


def test_one_clock():
    """``datetime.now(`` only in core/clock.py: every other module asks huituan.core.clock."""
    offenders = [f"{_rel(p)}:{n}" for p in _py_files(*PACKAGE_DIRS, "bench", "scripts")
                 if _rel(p) != "core/clock.py"
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if "datetime.now(" in line or "datetime.utcnow(" in line]
    assert not offenders, offenders


def test_china_time_in_one_place():
    """The China time zone is ``huituan.core.clock.CHINA_TZ``; nobody builds their own."""
    pattern = re.compile(r"ZoneInfo\(|[\"']Asia/Shanghai[\"']|timezone\(timedelta\(hours=8")
    offenders = [f"{_rel(p)}:{n}" for p in _py_files(*PACKAGE_DIRS, "bench", "scripts")
                 if _rel(p) != "core/clock.py"
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if pattern.search(line)]
    assert not offenders, offenders


def test_no_registration_by_module_name():
    """Parts are registered by plain calls from the composition root, never by importing a
    module whose name is a string."""
    offenders = [f"{_rel(p)}:{n}" for p in _py_files(*PACKAGE_DIRS)
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"\bimport_module\(|\b__import__\(|\bimportlib\b", line)]
    assert not offenders, offenders


def _imported_modules(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def test_imports_name_the_huituan_package():
    """``from huituan.services import x``, never ``from services import x``: the bare names
    are folders, not installed packages."""
    offenders = []
    for p in _py_files(*PACKAGE_DIRS, "tests", "bench", "scripts"):
        for lineno, module in _imported_modules(ast.parse(p.read_text(encoding="utf-8"), str(p))):
            if module.split(".")[0] in GENERIC_NAMES:
                offenders.append(f"{_rel(p)}:{lineno} imports {module}")
    assert not offenders, offenders


def test_dotted_paths_in_strings_name_the_huituan_package():
    """Entry points, migration packages and model modules are dotted paths in text too."""
    pattern = re.compile(r"""["'](?:%s)\.[a-z_]+""" % "|".join(sorted(GENERIC_NAMES)))
    texts = [ROOT / "pyproject.toml", *_py_files(*PACKAGE_DIRS)]
    offenders = [f"{_rel(p)}:{n}" for p in texts
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if pattern.search(line)]
    # "models.User" in a relation is Tortoise's app label and a class name: the pattern wants a module
    assert not offenders, offenders


def test_the_repository_explains_itself():
    assert (ROOT / "docs" / "ARCHITECTURE.md").is_file()
    texts = [ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml",
             *sorted((ROOT / "docs").rglob("*.md")),
             *_py_files(*PACKAGE_DIRS, "tests", "bench", "scripts"),
             *sorted((ROOT / "scripts").glob("*.sh"))]
    offenders = [f"{_rel(p)}:{n}" for p in texts
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if any(name in line for name in OUTSIDE_DOC_NAMES)]
    assert not offenders, "point at docs/ARCHITECTURE.md instead: " + ", ".join(offenders)


def test_readme_and_developing_point_at_the_architecture():
    for doc in ("README.md", "docs/DEVELOPING.md"):
        assert "ARCHITECTURE.md" in (ROOT / doc).read_text(encoding="utf-8"), doc
