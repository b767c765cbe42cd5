#!/usr/bin/env bash
# The whole suite twice: on PostgreSQL + real Redis (needs scripts/testenv.sh around it),
# then on the embedded SQLite + memory:// backend. Either failing fails the run.
set -uo pipefail
PY=${PY:-.venv/bin/python}
if [ -z "${HUITUAN_TEST_DATABASE_URL:-}" ] || [ -z "${HUITUAN_TEST_REDIS_URL:-}" ]; then
  echo "run-tests: HUITUAN_TEST_DATABASE_URL / HUITUAN_TEST_REDIS_URL not set: run through scripts/testenv.sh (make test)" >&2
  exit 2
fi
status=0
echo "=== suite on PostgreSQL + Redis ==="
HUITUAN_TEST_BACKEND=postgres "$PY" -m pytest -q "$@" || status=1
echo "=== suite on SQLite + memory:// ==="
HUITUAN_TEST_BACKEND=sqlite "$PY" -m pytest -q "$@" || status=1
exit $status
