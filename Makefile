# Two entry points: `make demo` (the main job on the sample) and `make test`.
# Each creates .venv on a fresh machine (Python 3.11 and make are all it needs).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all lint sample bench bench-scale bench-ingest bench-run bench-feedback bench-forecast bench-xlsx bench-analysts clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/retire-prep demo --out out/demo --warehouse out/demo/warehouse.duckdb

# ruff (checks and format) over the Python, sqlfluff (DuckDB dialect) over sql/: pyproject.toml
lint: $(STAMP)
	$(BIN)/ruff check pipelines dags tests bench deploy
	$(BIN)/ruff format --check pipelines dags tests bench deploy
	$(BIN)/sqlfluff lint --processes 2 sql

# one worker per core (at most 4, to bound memory on a large machine), each test file whole on
# one worker (its module fixtures built once). Its temporary files under a root of its own: pytest
# removes all but the newest three /tmp/pytest-of-<user>/pytest-N, so another pytest started
# meanwhile on the machine would delete this run's folders under it. Removed when it passes.
test: $(STAMP) lint
	@t=$$(mktemp -d -t retire-prep-tests.XXXXXX); \
	PYTEST_DEBUG_TEMPROOT=$$t $(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile; rc=$$?; \
	if [ $$rc -eq 0 ]; then rm -rf $$t; else echo "tests' temporary files kept in $$t"; fi; exit $$rc

# the same suite with nothing left out: Great Expectations' validation and the offices' workbooks in
# every test, not only in the modules of tests/conftest.py's KEPT_IN (longer)
test-all: $(STAMP)
	RETIRE_PREP_TEST_ALL=1 $(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile

# Regenerate data/sample/ byte for byte from the generator.
sample: $(STAMP)
	$(BIN)/python -m pipelines.sample.shipped data/sample

# every command at 1,000,000 persons (FULL month, 1 % INCR month, applications, feedback, declare):
# time, peak RSS and the stage holding it; the machine, its load and the figures are printed and
# appended to docs/benchmarks.md ("Bench runs"). bench-scale: 1,000,000, 5,000,000 and 25,000,000
# in one run (the growth ratios are taken against the first size); the 25 M month takes hours on 2
# cores and about 60 GB of disk (each size's FULL-month files removed once measured: 21 GB at 25 M):
# `make bench-scale SCALE=1000000,5000000` leaves it out. REPEAT=3: three rounds of the sizes, each
# ratio's median over them recorded (issue 19's ratios sit inside this machine's run-to-run noise:
# `make bench-scale SCALE=1000000,5000000 REPEAT=3`, about 40 minutes).
BENCH_NOTE ?=
SCALE      ?= 1000000,5000000,25000000
REPEAT     ?= 1
bench: $(STAMP)
	$(BIN)/python bench/run.py --persons 1000000 --note "$(BENCH_NOTE)"

bench-scale: $(STAMP)
	$(BIN)/python bench/run.py --persons $(SCALE) --repeat $(REPEAT) --drop-month-files --note "$(BENCH_NOTE)"

bench-ingest: $(STAMP)
	$(BIN)/python bench/ingest.py

bench-run: $(STAMP)
	$(BIN)/python bench/run.py

# county feedback on the warehouse bench-run leaves (it keeps bench/work/run with --keep)
bench-forecast: $(STAMP)
	$(BIN)/python bench/forecast.py

bench-feedback: $(STAMP)
	test -f bench/work/run/1000000/w.duckdb || $(BIN)/python bench/run.py --keep --no-record
	$(BIN)/python bench/feedback.py

# the analysts' file's rebuild against the monthly run (docs/benchmarks.md "The analysts' file")
bench-analysts: $(STAMP)
	$(BIN)/python bench/analysts.py

# the offices' worklist.xlsx: the run with and without them (issue 16)
bench-xlsx: $(STAMP)
	$(BIN)/python bench/xlsx.py

clean:
	rm -rf out build .pytest_cache

# Airflow on one machine (docs/operations.md §1): `make airflow-init` once, then `make airflow-start`
# (API server, scheduler, DAG processor, triggerer in the background, UI on http://127.0.0.1:8080
# only, LocalExecutor with one worker per core) and `make airflow-stop` (stops every process they
# started, task processes included). Override a path on the command line, e.g.
# `make airflow-start AIRFLOW_HOME=/srv/airflow`; the port with AIRFLOW_PORT=8081.
AIRFLOW_HOME   := $(CURDIR)/build/airflow
AIRFLOW_ENV     = PATH=$(CURDIR)/$(BIN):$$PATH AIRFLOW_HOME=$(AIRFLOW_HOME) \
                  AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags AIRFLOW__CORE__LOAD_EXAMPLES=False
WAREHOUSE_POOL := retire_prep_warehouse

.PHONY: airflow-init airflow-start airflow-standalone airflow-stop airflow-status airflow-check
airflow-init: $(STAMP)
	mkdir -p build/inbox/push/applications build/inbox/feedback build/out
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate
	$(AIRFLOW_ENV) $(BIN)/airflow pools set $(WAREHOUSE_POOL) 1 "retire-prep: DuckDB has one writer"

airflow-start: $(STAMP)
	AIRFLOW_HOME=$(AIRFLOW_HOME) deploy/airflow-local.sh start

# the former name (it no longer runs `airflow standalone`: that binds every interface and
# leaves its scheduler and workers running when stopped)
airflow-standalone: airflow-start

airflow-stop:
	AIRFLOW_HOME=$(AIRFLOW_HOME) deploy/airflow-local.sh stop

airflow-status:
	AIRFLOW_HOME=$(AIRFLOW_HOME) deploy/airflow-local.sh status

# The three DAGs on the sample through the real services on a private PostgreSQL, compared with
# the CLI byte for byte; stops everything it started; prints the time of each part (CI runs it).
airflow-check: $(STAMP)
	$(BIN)/python deploy/airflow_check.py $(AIRFLOW_CHECK_ARGS)
