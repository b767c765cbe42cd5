VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8080

.PHONY: install run test test-fast bench migrations lint

# The service alone (what `make run` needs); pip shows what it downloads and installs.
$(VENV)/.installed-service: pyproject.toml
	@echo "==> creating $(VENV) and installing huituan (service only; this takes a minute the first time)"
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade --progress-bar on pip
	$(VENV)/bin/pip install --progress-bar on -e .
	touch $@

# The service plus the test and lint tools.
$(VENV)/.installed: $(VENV)/.installed-service
	@echo "==> installing the test and lint tools into $(VENV)"
	$(VENV)/bin/pip install --progress-bar on -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Embedded: SQLite under ./var, in-process Redis, the WeChat sandbox at /sandbox.
run: $(VENV)/.installed-service
	$(VENV)/bin/huituan migrate
	$(VENV)/bin/huituan demo-data
	$(VENV)/bin/huituan serve --port $(PORT)

# Real PostgreSQL and Redis on temporary ports, the suite on both backends.
test: install
	bash scripts/testenv.sh env PY=$(PY) bash scripts/run-tests.sh

# SQLite + memory:// only; for a quick local loop.
test-fast: install
	HUITUAN_TEST_BACKEND=sqlite $(PY) -m pytest -q -x

bench: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "bench needs wrk"; exit 2; }
	TESTENV_DURABLE=1 bash scripts/testenv.sh $(PY) -m bench.run

migrations: install
	$(VENV)/bin/huituan makemigrations

# ruff (lint + import order) and the import-linter layer contracts of pyproject.toml.
lint: install
	$(VENV)/bin/ruff check .
	PY=$(PY) bash scripts/lint-imports.sh
