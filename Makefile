# The two commands of the README. Both set the machine up first (scripts/setup.sh).
.PHONY: demo test lint setup bench clean

VENV_PY := .venv/bin/python

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV_PY) -m worker demo

test: setup lint
	$(VENV_PY) -m pytest -q

lint: setup
	$(VENV_PY) -m ruff check worker tests bench scripts
	$(VENV_PY) -m ruff format --check worker tests bench scripts
	$(VENV_PY) -m mypy

clean:
	rm -rf .venv .mypy_cache .pytest_cache .ruff_cache
