"""Shared by every test module (pytest loads it first).

Layout of tests/ (issue 15):
- `support/`: helpers shared between test modules (a warehouse fed month by month, feedback rows,
  declaration helpers, screening of hand-made persons, read-only queries; `state`: a workspace's
  tables and files to compare with a reference; `publish`: the small push of the publishing
  tests). Test modules import from
  `support` and `pushkit` (hand-made push batches), never from one another.
- `vectors/`: the spec's rule vectors, kept in the repository.
- `hostile/generate.py`: the hostile-input corpus (every broken CSV record at the start, middle and
  end of each input, Parquet and manifest cases), generated at test time by
  `test_hostile_corpus.py` (issue 14); no binary file is kept.
- `test_<stage>.py`: a stage's rules on tiny hand-made inputs (ingest, screen, ledger, notify,
  declare, feedback, policy, workdays, tabular, validate, dags, cli).
- `test_oracle_*.py`: independent oracles written from the spec alone; `test_*_fuzz*.py`,
  `test_fault_injection.py`, `test_*_crash.py` (`test_publish_crash.py`: kill -9 at every file and
  folder step of publishing), `test_environment_faults.py` (full and read-only disks, bad settings),
  `test_ingest_swap.py`, `test_mutation_gaps.py`: robustness (fuzzing, killed processes, faults at
  every step, mutants the suite must kill); `test_monthly.py`,
  `test_correction_push.py`, `test_rerun_published_month.py`: whole monthly flows;
  `test_docs.py`, `test_sql_headers.py`, `test_rules_index.py`, `test_vectors_copy.py`: the docs
  and the SQL headers agree with the code.
"""

from __future__ import annotations

import pytest

from pipelines.settings import load_settings


@pytest.fixture(scope="session")
def settings():
    """The shipped settings (data/settings.toml, or RETIRE_PREP_SETTINGS)."""
    return load_settings()


#: Test modules that read or break the analysts' file (pipelines/analysts.py). Everywhere else the
#: file is not kept (setting ``analysts_file``): its upkeep after every writing command cost about a
#: tenth of the suite's time on warehouses no test reads it from. A test elsewhere that needs it
#: takes the mark ``analysts_file``.
ANALYSTS_FILE_MODULES = {
    "test_analysts",
    "test_analysts_upkeep",
    "test_environment_faults",
    "test_fault_injection",
    "test_publish_crash",
    "test_report_browser",
    "test_backup",
    "test_dags",
    "test_forecast_dag_cli",
}


def pytest_configure(config):
    config.addinivalue_line("markers", "analysts_file: the test needs the analysts' file kept (conftest.py)")


@pytest.fixture(autouse=True)
def _analysts_file_only_where_read(request, monkeypatch):
    if request.module.__name__.split(".")[-1] in ANALYSTS_FILE_MODULES or request.node.get_closest_marker(
        "analysts_file"
    ):
        return
    import pipelines.analysts

    monkeypatch.setattr(pipelines.analysts, "wanted", lambda warehouse, settings=None: False)


@pytest.fixture(autouse=True, scope="session")
def _cli_out_outside_the_checkout(tmp_path_factory):
    """A command run in-process without ``--out`` (e.g. ``feedback``, whose receipts go to
    ``<out>/feedback``) writes into a session folder, not the checkout's ``./out``."""
    import pipelines.cli

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipelines.cli, "DEFAULT_OUT", str(tmp_path_factory.mktemp("default-out")))
        yield
