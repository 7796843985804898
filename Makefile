# `make run` and `make test` are the only set-up a fresh machine needs: both create or refresh .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency list changes, so repeated runs stay fast.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/heatwave run

test: $(STAMP)
	$(BIN)/ruff check bot cogs db tests bench
	$(BIN)/mypy
	$(BIN)/pytest

# BENCH_DB=postgresql://... runs the same benchmarks on PostgreSQL, plus copy-store (SQLite -> that server).
BENCH_DB ?=
bench: $(STAMP)
	$(BIN)/python bench/ingest.py $(if $(BENCH_DB),--db $(BENCH_DB))
	$(if $(BENCH_DB),,$(BIN)/python bench/ingest_profile.py)
	$(BIN)/python bench/commands.py $(if $(BENCH_DB),--db $(BENCH_DB))
	$(BIN)/python bench/heat_chart.py $(if $(BENCH_DB),--db $(BENCH_DB))
	$(BIN)/python bench/alerts.py $(if $(BENCH_DB),--db $(BENCH_DB))
	$(BIN)/python bench/digests.py $(if $(BENCH_DB),--db $(BENCH_DB))
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/fanout.py --processes 2 $(if $(BENCH_DB),--db $(BENCH_DB))
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/living_posts.py $(if $(BENCH_DB),--db $(BENCH_DB))
	$(if $(BENCH_DB),$(BIN)/python bench/copy_store.py --db $(BENCH_DB))

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache bench/.data
