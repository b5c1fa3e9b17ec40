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
