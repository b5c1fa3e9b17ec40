"""Every SQL file states what it reads, writes and takes (issue 15), and the statement text agrees.

dbt's `ref()` made plain: a reader sees from a file's first three lines where its inputs come from.
This test holds the header to the text (tests/support/sql_headers.py parses both) and every table a
file reads to the schema, to a file of its own stage folder that writes it, or to a frame the Python
side registers (listed below with where it is made).
"""

from pathlib import Path

import pytest

from support.sql_headers import HEADER_KEYS, declared, parsed

SQL = Path(__file__).resolve().parents[2] / "sql"
FILES = sorted(SQL.rglob("*.sql"))

# made by the Python side of a stage, not by a file of sql/
REGISTERED = {
    "raw_persons",
    "raw_segments",
    "rej_persons",
    "rej_segments",  # pipelines.ingest: the files read as text
    "_apps",
    "_apps_rej",  # pipelines.ingest.load_applications
    "_notice_texts",  # pipelines.notify: rendered texts, one per distinct input
    "_waiting_texts",  # pipelines.notify_settle: waiting reminders' texts rendered for the batch
    "reject_errors",  # DuckDB's own: read_csv(store_rejects) in sql/ingest/01_read_csv.sql
    "_code_labels",  # pipelines.xlsx_list.code_labels_registered: pipelines.labels.label_rows, for the list workbooks
}


def _schema() -> set[str]:
    out: set[str] = set()
    for f in (SQL / "warehouse").glob("*.sql"):
        out |= parsed(f.read_text(encoding="utf-8"))["writes"]
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SQL)))
def test_header_is_there_and_agrees_with_the_text(path):
    text = path.read_text(encoding="utf-8")
    head = declared(text)
    assert text.startswith("-- reads:"), "the file opens with -- reads: / -- writes: / -- params:"
    assert set(head) == set(HEADER_KEYS), f"missing header line(s): {set(HEADER_KEYS) - set(head)}"
    found = parsed(text)
    assert found["writes"] <= head["writes"], f"writes not declared: {found['writes'] - head['writes']}"
    assert found["reads"] <= head["reads"] | head["writes"], f"reads not declared: {found['reads'] - head['reads']}"
    assert found["params"] <= head["params"], f"params not declared: {found['params'] - head['params']}"
    assert head["writes"] <= found["writes"], f"declared but not written: {head['writes'] - found['writes']}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SQL)))
def test_every_read_has_a_source(path):
    """A table read is in the schema, written by a file of the same stage folder or of a stage's
    STEPS that runs this file (the declaration screening runs sql/screen/benefit_place.sql), or registered."""
    stage_writes: set[str] = set()
    for other in path.parent.glob("*.sql"):
        stage_writes |= declared(other.read_text(encoding="utf-8")).get("writes", set())
    here = str(path.relative_to(SQL))
    for stage in STAGE_MODULES:
        if any(s.sql == here for s in _steps(stage)):
            for s in _steps(stage):
                stage_writes |= declared((SQL / s.sql).read_text(encoding="utf-8")).get("writes", set())
    policy = set()
    for f in (SQL / "policy").glob("*.sql"):
        policy |= declared(f.read_text(encoding="utf-8")).get("writes", set())
    known = _schema() | stage_writes | REGISTERED | policy | {"screen_results", "persons_p", "segments_p"}
    missing = declared(path.read_text(encoding="utf-8")).get("reads", set()) - known
    assert not missing, f"{path.name} reads {missing}: not in the schema, its stage, or REGISTERED"


# --------------------------------------------------------------------------- the stages' STEPS (issue 15)
#
# Each stage module lists its SQL steps, in the order it runs them, in one tuple `STEPS` run by
# pipelines.steps. Checked here from the headers alone (every read has a source before it), and on
# a small warehouse (the shipped sample's two months, and a Parquet push and a CSV with a blank line
# and a broken record): each step ran, was given exactly its `-- params:`, and left what it declares.

import importlib  # noqa: E402
import re  # noqa: E402

STAGE_MODULES = (
    "warehouse",
    "ingest",
    "screen",
    "ledger",
    "notify",
    "outputs",
    "declare",
    "report",
    "explain",
    "monthly",
    "forecast",
    "analysts",
    "feedback",
)


def _steps(stage: str):
    return importlib.import_module(f"pipelines.{stage}").STEPS


def _includes(sql: str) -> list[str]:
    text = (SQL / sql).read_text(encoding="utf-8")
    return re.findall(r"""\{%-?\s*include\s+["']([^"']+)["']""", text)


def _head(sql: str) -> dict[str, set[str]]:
    """The header of a step's file with those of the files it includes."""
    out = {k: set(v) for k, v in declared((SQL / sql).read_text(encoding="utf-8")).items()}
    for inc in _includes(sql):
        for k, v in _head(inc).items():
            out[k] |= v
    return out


def _schema_tables() -> set[str]:
    out: set[str] = set()
    for step in importlib.import_module("pipelines.warehouse").STEPS:
        if step.sql.startswith("warehouse/schema") or step.sql == "warehouse/views.sql":
            out |= _head(step.sql)["writes"]
    return out


@pytest.mark.parametrize("stage", STAGE_MODULES)
def test_a_stage_lists_its_steps_and_every_read_has_a_source_before_it(stage):
    """Each table a step reads is in the schema, written by an earlier step of the same STEPS, or
    named in the step's `inputs` (what the stage receives from outside its steps)."""
    from pipelines.steps import Step, Steps

    steps = _steps(stage)
    assert isinstance(steps, Steps) and steps and all(isinstance(s, Step) for s in steps)
    known = set() if stage == "warehouse" else _schema_tables()
    for step in steps:
        assert (SQL / step.sql).is_file(), step.sql
        head = _head(step.sql)
        missing = head["reads"] - known - head["writes"] - set(step.inputs)
        assert not missing, f"{stage}: {step.sql} reads {sorted(missing)}, which no earlier step writes"
        known |= head["writes"]


def test_every_sql_file_is_a_step_of_a_stage_or_included_by_one():
    listed = {s.sql for stage in STAGE_MODULES for s in _steps(stage)}
    listed |= {inc for sql in set(listed) for inc in _includes(sql)}
    files = {str(p.relative_to(SQL)) for p in FILES}
    assert files - listed == set(), "files no stage lists in its STEPS"


@pytest.mark.parametrize("stage", STAGE_MODULES)
def test_a_step_is_given_exactly_its_params_line(stage):
    """The runner gives a step the parameters of its `-- params:` line (and of the files it includes),
    and that line names exactly the Jinja variables the file uses."""
    for step in _steps(stage):
        text = (SQL / step.sql).read_text(encoding="utf-8")
        own = declared(text)["params"]
        assert own == parsed(text)["params"], f"{step.sql}: -- params: {sorted(own)}"
        assert set(step.params) == _head(step.sql)["params"], step.sql
        given = step.given({p: None for p in step.params} | {"not_a_param": 1})
        assert set(given) == set(step.params)


def _existing(con, names: set[str]) -> set[str]:
    """Which of ``names`` exist on ``con``: tables and views first, macros only for the names left
    (duckdb_functions() lists every built-in function: ≈ 20 ms a call, ≈ 650 steps observed)."""
    if not names:
        return set()
    rows = con.execute("SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views()").fetchall()
    found = {r[0].lower() for r in rows} & names
    if names - found:
        rows = con.execute(
            "SELECT function_name FROM duckdb_functions() WHERE function_type IN ('macro', 'table_macro')"
        ).fetchall()
        found |= {r[0].lower() for r in rows} & names
    return found


def _dropped(sql: str) -> set[str]:
    text = (SQL / sql).read_text(encoding="utf-8")
    for inc in _includes(sql):
        text += (SQL / inc).read_text(encoding="utf-8")
    return {m.lower() for m in re.findall(r"\bDROP\s+(?:TABLE|VIEW)\s+(?:IF\s+EXISTS\s+)?([A-Za-z_]\w*)", text, re.I)}


@pytest.fixture(scope="module")
def ran_steps(tmp_path_factory):
    """Every step run while the sample's two months are run, and a Parquet push and a CSV push with
    a blank line and a broken record are ingested: {sql: [(params given, declared writes missing)]}."""
    from pipelines import steps as steps_module
    from pipelines.ingest import ingest_batches
    from support.pushkit import population, rehash, write_batch
    from support import sample_world

    ran: dict[str, list] = {}

    def observe(con, step, given):
        declared = {w.lower() for w in _head(step.sql)["writes"]} - _dropped(step.sql)
        missing = declared - _existing(con, declared)
        ran.setdefault(step.sql, []).append((set(given), missing))

    def observe_statement(step, name, given):  # feedback's named statements: handed out, run by the caller
        ran.setdefault(step.sql, []).append((name, set(given)))

    tmp = tmp_path_factory.mktemp("steps")
    # a cache folder of its own: the policy macros' file is built here, so sql/policy/ runs observed
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp / "cache"))
    steps_module.OBSERVERS.append(observe)
    steps_module.STATEMENT_OBSERVERS.append(observe_statement)
    try:
        sample_world.build(tmp)
        persons, segments = population(3)
        ingest_batches([write_batch(tmp / "pq", persons, segments, fmt="parquet")], tmp / "pq.duckdb", validate=False)
        folder = write_batch(tmp / "csv", persons, segments)
        text = (folder / "persons.csv").read_text(encoding="utf-8").splitlines(keepends=True)
        broken = "x,y\n"  # too few columns: a record DuckDB rejects (UNPARSABLE_ROW)
        (folder / "persons.csv").write_text(text[0] + text[1] + "\n" + broken + "".join(text[2:]), encoding="utf-8")
        rehash(folder)
        ingest_batches([folder], tmp / "csv.duckdb", validate=False)
        # an older warehouse's notice_log and ledger_entries, rebuilt by a writer's connection (issue 19)
        from pipelines.warehouse import connect
        from support.old_schema import to_old_ledger_entries, to_old_notice_log

        to_old_notice_log(tmp / "csv.duckdb")
        to_old_ledger_entries(tmp / "csv.duckdb")
        with connect(tmp / "csv.duckdb"):
            pass
    finally:
        steps_module.OBSERVERS.remove(observe)
        steps_module.STATEMENT_OBSERVERS.remove(observe_statement)
        mp.undo()
    return ran


def _named(sql: str) -> list[str]:
    """The `-- name: <name>` blocks of a file of named statements (none: a step run whole)."""
    return re.findall(r"^-- name: (\w+)[ \t]*$", (SQL / sql).read_text(encoding="utf-8"), re.M)


@pytest.mark.parametrize("stage", STAGE_MODULES)
def test_each_step_ran_on_a_small_warehouse_and_left_what_it_declares(stage, ran_steps):
    for step in _steps(stage):
        if _named(step.sql):
            # a file of named statements (feedback): its statements were handed out by
            # pipelines.steps.statement during the sample's feedback, each given only its params line
            used = ran_steps.get(step.sql, [])
            assert used, f"no statement of {step.sql} was used"
            for name, given in used:
                assert name in _named(step.sql) and given <= set(step.params), (step.sql, name)
            continue
        if step.sql not in ran_steps:
            # a step that is one SELECT is streamed by its stage (pipelines.steps.query), not run
            text = (SQL / step.sql).read_text(encoding="utf-8")
            assert not _head(step.sql)["writes"], f"{step.sql} never ran"
            assert re.search(r"^\s*SELECT\b", re.sub(r"--[^\n]*", "", text), re.M | re.I), f"{step.sql} never ran"
            continue
        for given, missing in ran_steps[step.sql]:
            assert given == set(step.params), step.sql
            assert not missing, f"{step.sql} ran but left no {sorted(missing)}"


# --------------------------------------------------------------------------- one renderer (issue 15)

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
#: modules that read sql/ without rendering it, and why
READS_SQL_DIR = {
    "__init__.py": "defines SQL_DIR",
    "steps.py": "the one renderer",
    "screen.py": "the screening cache's fingerprint hashes the bytes of sql/policy/*.sql",
}


def test_no_module_outside_steps_renders_sql_files_itself():
    """Only pipelines/steps.py turns a file of sql/ into text: no module keeps its own Jinja
    environment on sql/, its own loader of statements, or the old warehouse.run_sql/render_sql."""
    offenders = []
    for path in sorted(PIPELINES.rglob("*.py")):
        rel = path.relative_to(PIPELINES).as_posix()
        text = path.read_text(encoding="utf-8")
        if rel == "steps.py":
            continue
        for pattern, why in (
            (r"\b(?:run_sql|render_sql)\b", "the old run_sql/render_sql"),
            (r"FileSystemLoader\([^)]*SQL_DIR", "a Jinja loader on sql/"),
            (r"\.from_string\(", "a template built from text"),
            (r"name: \(\\w", "a loader of named statements (a pattern of `-- name:` lines)"),
        ):
            if re.search(pattern, text):
                offenders.append(f"{rel}: {why}")
        if "SQL_DIR" in text and rel not in READS_SQL_DIR:
            offenders.append(f"{rel}: reads sql/ (SQL_DIR)")
    assert not offenders, offenders
    import pipelines.warehouse as wh

    assert not hasattr(wh, "run_sql") and not hasattr(wh, "render_sql")


def test_a_named_statement_is_rendered_by_the_runner_with_its_params_only():
    from pipelines.errors import RetirePrepError
    from pipelines.feedback import STEPS
    from pipelines.steps import statement

    text = statement(STEPS["result_notices"], "rows_of_month", objection_days=10)
    assert "10 AS objection_days" in text and "{{" not in text
    # the quoting filters are those of every step: a table and its columns quoted as identifiers
    insert = statement(STEPS["insert_buffer"], "insert", table="feedback_rows", columns=[("a", "VARCHAR")], filled={})
    assert insert.startswith('INSERT INTO "feedback_rows" ("a")')
    with pytest.raises(RetirePrepError, match="takes no parameter"):
        statement(STEPS["result_notices"], "rows_of_month", objection_days=10, month_mi=1)
    with pytest.raises(RetirePrepError, match="no statement"):
        statement(STEPS["result_notices"], "no_such_statement")
    # a statement without Jinja is the file's text, rendered once
    assert statement(STEPS["files"], "applied_before") is statement(STEPS["files"], "applied_before")


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SQL)))
def test_values_are_quoted_by_the_filters_not_by_hand(path):
    """A value goes into SQL text through `sql_str`/`sql_list`/`sql_ident`, never as `'{{ x }}'`."""
    code = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
    by_hand = [lit for lit in re.findall(r"'(?:[^'\n]|'')*'", code) if "{{" in lit]
    assert not by_hand, f"a Jinja value inside a text literal: {by_hand[0][:60]}"


def test_the_forecast_quotes_explain_s_person_and_the_offices():
    from pipelines.forecast import STEPS

    text = STEPS["10_forecast"].render(
        month_mi=24322, horizon=2, next_month_first="2026-12-01", overdue_every=3, only="x'y"
    )
    assert "e.id_no = 'x''y'" in text and "DATE '2026-12-01'" in text
    counts = STEPS["20_counts"].render(month_mi=24322, offices=["640104", "6'4"], kinds=["RESULT"], channels=["SMS"])
    assert "unnest(['640104', '6''4'])" in counts and "kind = 'RESULT' AND channel = 'SMS'" in counts
