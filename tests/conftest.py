"""Shared by every test module (pytest loads it first).

Layout of tests/ (issue 15: a reader finds a test by what it is about):
- by stage, each rule on tiny hand-made inputs: `ingest/`, `screen/`, `ledger/`, `notify/`,
  `declare/`, `feedback/` (the format, intake, receipts, masking of file names), `outputs/` (the
  files, workbooks, report page, validation), `forecast/`, `analysts/`, `policy/` (ages, months,
  working days), `warehouse/` (schema, migrations, backups), `cli/`, `airflow/` (the DAGs, the
  push's arrival, the deployment), `sample/` (the generator);
- `contract/`: the docs, the SQL headers, the rules index, the vectors' copy, the code's size and
  the suite's own switches agree with the code;
- `oracles/`: independent oracles written from the spec alone (push, screening, notices, outputs,
  declarations);
- `robustness/`: fuzzing (`test_*fuzz*`), killed processes (`test_*_crash`: kill -9 at every file and
  folder step of publishing), faults at every step (`test_fault_injection`), full and read-only disks
  and bad settings (`test_environment_faults`), the hostile-input corpus (`test_hostile_corpus`,
  built by `hostile/generate.py` at test time: no binary file is kept), a push swapped mid-ingest,
  the mutants the suite must kill (`test_mutation_gaps`), and where personal data goes at the edges
  (`test_privacy_probe`: names of folders, files and sheets, argument errors, DAG failures);
- `flows/`: whole monthly flows (a month, a correction push, a rerun of a published month).

Shared code: `support/` (a warehouse fed month by month, feedback rows, declaration helpers,
screening of hand-made persons, read-only queries, `state`: a workspace's tables and files to compare
with a reference, `publish`: the small push of the publishing tests, `pushkit`: hand-made push
batches, `oracle_rules`: the oracles' own rules, `xlsx_reference`: the workbooks' reference writer,
`gx_memo`: GX's verdict on a frame already judged, for the fault sweep);
`vectors/`: the spec's rule vectors, kept in the repository. Test modules import from `support`,
never from one another; module names are unique across the folders (each folder is put on
sys.path by pytest, and `--dist loadfile` and LONGEST_FIRST below go by the module's name).
"""

from __future__ import annotations

import os

import pytest

import pipelines.analysts
import pipelines.declare
import pipelines.notify  # (and so pipelines.notify_files, which it imports: imported first it would meet notify half-made)
import pipelines.outputs
import pipelines.validate
import pipelines.warehouse
from pipelines.settings import load_settings
from support.fresh_warehouse import copied
from support.publish import no_validation, no_workbooks

_REAL_WANTED = pipelines.analysts.wanted


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
    "test_analysts_questions",
    "test_environment_faults",
    "test_fault_injection",
    "test_publish_crash",
    "test_report_browser",
    "test_backup",
    "test_dags",
    "test_forecast_dag_cli",
    "test_sql_headers",  # its sample world checks that every step of pipelines.analysts ran
}


def pytest_configure(config):
    config.addinivalue_line("markers", "analysts_file: the test needs the analysts' file kept (conftest.py)")
    config.addinivalue_line("markers", "gx: the test needs Great Expectations' validation (conftest.py)")
    config.addinivalue_line("markers", "workbooks: the test needs the offices' worklist.xlsx (conftest.py)")
    config.addinivalue_line(
        "markers", "schema: the test needs every new warehouse's schema made by its DDL (conftest.py)"
    )
    # xdist's scheduler (in the controlling process, which collects nothing) would reorder the files
    # by their number of tests (--loadscope-reorder, its default): keep LONGEST_FIRST's order instead
    # (the option matters only with --dist loadscope / loadfile)
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def _not_wanted(warehouse, settings=None) -> bool:
    return False


@pytest.fixture(scope="module", autouse=True)
def _analysts_file_only_where_read_module(request):
    """Module scope, autouse: in place before the module's own module-scoped fixtures are built
    (pytest sets up a scope's autouse fixtures first). The switch was function-scoped only, so the
    worlds that modules build once (the oracles, the hostile corpus, …) still rebuilt the analysts'
    file after every command: about a third of their set-up time."""
    if request.module.__name__.split(".")[-1] in ANALYSTS_FILE_MODULES:
        yield
        return
    mp = pytest.MonkeyPatch()
    mp.setattr(pipelines.analysts, "wanted", _not_wanted)
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _analysts_file_only_where_read(request, monkeypatch, _analysts_file_only_where_read_module):
    """A test marked ``analysts_file`` in a module that does not keep the file gets it back."""
    if request.module.__name__.split(".")[-1] in ANALYSTS_FILE_MODULES:
        return
    if request.node.get_closest_marker("analysts_file"):
        monkeypatch.setattr(pipelines.analysts, "wanted", _REAL_WANTED)
    else:  # a test that patched it back and forth itself: off again for the next one
        monkeypatch.setattr(pipelines.analysts, "wanted", _not_wanted)


#: What a command does that costs much and that most tests do not look at, left out of every test
#: module but those that test it or run a month as production does (a test elsewhere takes the mark
#: of the same name; ``RETIRE_PREP_TEST_ALL=1``, ``make test-all``, leaves nothing out):
#:
#: * ``gx``, Great Expectations' validation (``support.publish.no_validation``): ≈ 20–50 ms an
#:   expectation whatever the frame's size (55 % of test_monthly's CPU), on pushes of a few dozen
#:   persons whose every output the tests' own assertions check;
#: * ``workbooks``, the offices' ``worklist.xlsx`` (``support.publish.no_workbooks``): one query of
#:   ≈ 36,000 characters, ≈ 0.15 s to plan and run even for a dozen rows, a sixth of a small run;
#:   and their ``declarations.xlsx`` (seventeenth session: ≈ 0.5 s a ``declare`` of 29 offices, most of
#:   it XlsxWriter's 29 templates, whatever the rows) and ``offline.xlsx`` (an office with notices).
#:
#: * ``schema``, a new warehouse's schema made by its DDL on every writer's first connection
#:   (``support.fresh_warehouse.copied``: ≈ 0.12 s CPU a new warehouse, about a thousand in the suite):
#:   elsewhere a new warehouse is a copy of the one the same code made first in the process (seventeenth
#:   session); kept where the schema, its migrations or the steps each command runs are tested, and
#:   where a command's file operations are counted, broken or killed.
#:
#: Together ≈ 13 % of the suite (``make test`` 7 min 37 s, ``make test-all`` 8 min 48 s on 2 cores):
#: the 10-minute budget's margin for the tests to come.
#:
#: Tests that start the command line as a subprocess do everything, as production does.
KEPT_IN = {
    "gx": {
        "test_validate",
        "test_fault_injection",  # faults inside the validation step
        "test_monthly",
        "test_oracle_outputs",  # the validation pages: offline, no personal data
        "test_fuzz_invariants",  # no ID number, name or phone in any validation result
    },
    "workbooks": {
        "test_worklist_xlsx",
        "test_xlsx_setbased",
        "test_declare_xlsx",
        "test_offline_xlsx",
        "test_monthly",
        "test_dags",
        "test_oracle_outputs",
        "test_fuzz_invariants",
    },
    "schema": {
        "test_warehouse_schema",  # the stamp: what a writer's connection runs on a new warehouse
        "test_upgrade",  # older warehouses brought up, upgrades killed midway
        "test_backup",
        "test_policy_macros",
        "test_sql_headers",  # every step run, the schema's included, observed
        "test_notice_log_unique",  # the migrations of support.old_schema
        "test_ledger_entries_unique",
        "test_fault_injection",  # the file operations of a command counted, broken or killed
        "test_publish_crash",
        "test_environment_faults",
        "test_ingest_crash",
        "test_ingest_swap",
        "test_mutation_gaps",
    },
}
LEAVE_OUT = {"gx": no_validation, "workbooks": no_workbooks, "schema": copied}
#: the attributes each of LEAVE_OUT replaces, and what they are before any test runs
REPLACED = {
    "gx": ((pipelines.validate, "validate_frames"), (pipelines.validate, "warm_up")),
    "workbooks": (
        (pipelines.outputs, "write_workbooks"),
        (pipelines.declare, "write_declaration_books"),
        (pipelines.notify_files, "write_offline_books"),
    ),
    "schema": ((pipelines.warehouse, "duckdb"),),
}
_REAL = {(owner, attr): getattr(owner, attr) for pairs in REPLACED.values() for owner, attr in pairs}
EVERYTHING = os.environ.get("RETIRE_PREP_TEST_ALL") == "1"


def _left_out(request) -> list[str]:
    module = request.module.__name__.split(".")[-1]
    return [] if EVERYTHING else [name for name, modules in KEPT_IN.items() if module not in modules]


@pytest.fixture(scope="module", autouse=True)
def _costly_parts_only_where_tested_module(request):
    """Module scope, autouse, so that the worlds a module builds once are built without them too."""
    mp = pytest.MonkeyPatch()
    for name in _left_out(request):
        LEAVE_OUT[name](mp)
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _costly_parts_only_where_tested(request, monkeypatch, _costly_parts_only_where_tested_module):
    """A test marked ``gx`` or ``workbooks`` in a module that leaves it out gets it back for its run."""
    for name in _left_out(request):
        if request.node.get_closest_marker(name):
            for owner, attr in REPLACED[name]:
                monkeypatch.setattr(owner, attr, _REAL[(owner, attr)])


@pytest.fixture(autouse=True, scope="session")
def _policy_macros_in_the_session(tmp_path_factory):
    """The policy macros' cached file (pipelines/policy_macros.py) in the session's folder, shared by
    its workers and the commands they start, not in the user's ~/.cache. Built first, for the
    settings file's settings: no test's first command builds it (the fault sweeps count the file
    operations of a command, and every command after the first would count one fewer)."""
    from pipelines import policy_macros
    from pipelines.settings import load_settings

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(root / "cache"))
        policy_macros.ensure(load_settings())
        yield


@pytest.fixture(autouse=True, scope="session")
def _cli_out_outside_the_checkout(tmp_path_factory):
    """A command run in-process without ``--out`` (e.g. ``feedback``, whose receipts go to
    ``<out>/feedback``) writes into a session folder, not the checkout's ``./out``."""
    import pipelines.cli

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipelines.cli, "DEFAULT_OUT", str(tmp_path_factory.mktemp("default-out")))
        yield


#: The test files that cost the most (seconds of setup + call, `--durations=0` of the whole suite on
#: 2 workers, refreshed in the eighteenth session; docs/benchmarks.md "The test suite's time"). `make test`
#: gives each file whole to one worker (`--dist loadfile`); xdist hands the files out in the order
#: they come here, so the longest go first and the short ones fill in at the end (the longest
#: processing time first). xdist's own order (most tests first) put the long files with few tests
#: (the crash sweeps, the DAG runs) last, where one worker ran them alone for minutes. Files not
#: listed keep their order after these; a file's tests stay together and in their order.
LONGEST_FIRST = {
    "test_publish_crash": 78,
    "test_fuzz_invariants": 54,
    "test_fault_injection": 54,
    "test_dags": 40,
    "test_ingest": 32,
    "test_ledger": 31,
    "test_monthly": 30,
    "test_environment_faults": 28,
    "test_cli_ingest": 28,
    "test_ingest_crash": 27,
    "test_rerun_published_month": 21,
    "test_oracle_push": 21,
    "test_oracle_outputs": 20,
    "test_validate": 20,
    "test_correction_push": 19,
    "test_xlsx_setbased": 18,
    "test_oracle_notices": 18,
    "test_ingest_bad_files": 17,
    "test_oracle_declare": 16,
    "test_worklist_xlsx": 15,
    "test_feedback_fuzz": 14,
    "test_declare_latest_push": 14,
    "test_forecast": 14,
    "test_declare": 13,
    "test_skipped_months": 13,
    "test_analysts_upkeep": 13,
    "test_report_reading": 12,
    "test_hostile_corpus": 12,
    "test_feedback": 11,
    "test_recipients": 10,
    "test_report_browser": 10,
    "test_officer_round_trip": 9,
    "test_feedback_order": 8,
    "test_forecast_dag_cli": 8,
    "test_declare_xlsx": 8,
    "test_sql_headers": 8,
    "test_notify_buckets": 7,
    "test_screen_cache": 7,
    "test_notice_log_unique": 7,
}


def pytest_collection_modifyitems(session, config, items):
    """The files in LONGEST_FIRST order (a stable sort: the rest after them, as collected)."""
    cost = lambda item: -LONGEST_FIRST.get(item.path.stem, 0)
    items[:] = sorted(items, key=cost)
