"""One distribution name: the wheel holds ``huituan/`` and its metadata only, the explicit
package list in pyproject.toml matches the folders, and an installed wheel does not put
``core`` (or any other generic name) on the path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import BACKEND_INDEPENDENT

pytestmark = BACKEND_INDEPENDENT  # the wheel and the package list

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
GENERIC_NAMES = ("core", "models", "services", "posters", "miniapp_api", "bot", "jobs")


def _folder_packages() -> set[str]:
    """Every folder with an __init__.py under a mapped folder, as its installed dotted name."""
    found = set()
    for dotted, folder in SETUPTOOLS["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if "__pycache__" in rel.parts:
                continue
            found.add(".".join((dotted, *rel.parts)) if rel.parts else dotted)
    return found


def test_the_package_list_matches_the_folders():
    listed = SETUPTOOLS["packages"]
    assert len(listed) == len(set(listed)), "a package is listed twice"
    missing = _folder_packages() - set(listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"
    assert set(listed) == _folder_packages(), f"listed but no such package: {sorted(set(listed) - _folder_packages())}"


def test_every_mapped_name_is_under_huituan():
    assert all(name == "huituan" or name.startswith("huituan.") for name in SETUPTOOLS["package-dir"])
    assert set(GENERIC_NAMES) <= set(SETUPTOOLS["package-dir"].values())  # the folders stay at the top


def _source_copy(dest: Path) -> Path:
    """What the build reads, copied away from the worktree: building in place would leave
    build/ and *.egg-info behind in the repository."""
    src = dest / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in set(SETUPTOOLS["package-dir"].values()):
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    return src


def _can_build_here() -> bool:
    """The venv's own setuptools can build the wheel (no download): the version pyproject.toml
    asks for, with bdist_wheel (built in from 70.1, the ``wheel`` package before)."""
    try:
        import setuptools
    except ImportError:
        return False
    version = tuple(int(p) for p in setuptools.__version__.split(".")[:2] if p.isdigit())
    if version < (68,):
        return False
    if version >= (70, 1):
        return True
    try:
        import wheel  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = _source_copy(tmp)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(src)]
    if _can_build_here():
        cmd.insert(5, "--no-build-isolation")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    [built] = (tmp / "dist").glob("huituan-*.whl")
    return built


def test_the_wheel_holds_only_huituan(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1 and top - dist_info == {"huituan"}, sorted(top)
    # every listed package made it in, each folder under its huituan. name
    for package in SETUPTOOLS["packages"]:
        assert package.replace(".", "/") + "/__init__.py" in names, package
    assert "huituan/cli.py" in names and "huituan/core/clock.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "huituan = huituan.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_an_installed_wheel_exposes_no_generic_name(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    outside = tmp_path / "elsewhere"  # not the repository: its folders must not be importable by cwd
    outside.mkdir()

    def run(code: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), "-c", code], cwd=outside, env=env, capture_output=True, text=True, timeout=60)

    for name in GENERIC_NAMES:
        result = run(f"import {name}")
        assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr, (name, result.stderr)
    # the package and its stdlib-only parts import without the dependencies installed
    result = run("import huituan, huituan.core.clock, huituan.core.money; print(huituan.__file__)")
    assert result.returncode == 0, result.stderr
    assert str(venv) in result.stdout and str(ROOT) not in result.stdout


def test_the_editable_install_exposes_no_generic_name_either(tmp_path):
    """The development venv (``make install``, editable) maps ``huituan.*`` onto the folders
    without putting the repository itself on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    code = ("import importlib.util as u, huituan.core.clock as c; "
            f"print(c.__file__); print([n for n in {GENERIC_NAMES!r} if u.find_spec(n)])")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    where, generic = result.stdout.splitlines()
    assert where == str(ROOT / "core" / "clock.py") and generic == "[]"
