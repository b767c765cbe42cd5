#!/usr/bin/env bash
# import-linter reads a package from its folder, but our subpackages live in top-level folders
# that setuptools maps under ``huituan.`` (pyproject.toml). Lay the package out as the wheel
# does, in a temporary folder, and check the contracts of pyproject.toml against that copy.
set -euo pipefail
PY=${PY:-.venv/bin/python}
ROOT=$(pwd)
STAGE=$(mktemp -d /tmp/huituan-lint.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/huituan"
cp -r huituan/. "$STAGE/huituan/"
for pkg in core models services posters miniapp_api bot jobs; do
  cp -r "$pkg" "$STAGE/huituan/$pkg"
done
find "$STAGE" -name __pycache__ -prune -exec rm -rf {} +
cd "$STAGE"
PYTHONPATH="$STAGE" "$ROOT/$(dirname "$PY")/lint-imports" --config "$ROOT/pyproject.toml" --no-cache
