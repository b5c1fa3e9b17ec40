"""The standing hostile-input corpus (issue 14): every broken record of tests/hostile/generate.py,
at the start, the middle and the end of a push persons file, a feedback file and an
applications file.  For each case:

* every physical record is accounted for — applied, already applied, quarantined or refused
  with its row number and a reason — or the file is refused whole and nothing of it is applied;
* the good rows of a file that is not refused whole are all applied (none silently lost after
  the broken record);
* sending the same file again never says "already applied" for a file that was not applied;
* no message carries an ID number, a name or a phone.

Plus the Parquet and manifest cases of the push (BINARY text, LIST columns, months outside
1900-2099, a symlinked manifest, a birth date after the data month), and the CLI's exit codes
and one-line refusals.  Tiny files: the whole module runs in well under a minute. Each world is made
once a module, with one command for all its files; the feedback world's ≈ 200 persons are written on
one connection (``Wh.batch``: opening and closing the file for each was ≈ 30 ms CPU a person, most of
the module's time) and each case's checks read on one connection.
"""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile import generate as g  # noqa: E402
from pipelines import cli  # noqa: E402
from pipelines.contract import PERSON_COLUMNS  # noqa: E402
from pipelines.errors import ApplicationsRefused  # noqa: E402
from pipelines.feedback import FeedbackFileRefused, apply_feedback_files  # noqa: E402
from pipelines.ingest import ingest_batches, load_applications  # noqa: E402
from pipelines.warehouse import connect  # noqa: E402
from support.pushkit import make_id, person, write_batch  # noqa: E402
from support.feedback import Wh  # noqa: E402
from support.warehouse import unexplained_refusals  # noqa: E402

ID_LIKE = re.compile(r"[0-9]{17}[0-9Xx]|1[3-9][0-9]{9}")


def assert_private(texts, names=()) -> None:
    for t in texts:
        assert not ID_LIKE.search(t), t
        for n in names:
            assert n not in t, t


def spans(reason: str | None) -> int:
    """Physical lines a refused record covers (the reason names a span of several lines)."""
    m = re.search(r"spans lines ([0-9]+)-([0-9]+)", reason or "")
    return int(m.group(2)) - int(m.group(1)) + 1 if m else 1


def covered(reason: str | None, line: int) -> bool:
    m = re.search(r"spans lines ([0-9]+)-([0-9]+)", reason or "")
    return bool(m) and int(m.group(1)) <= line <= int(m.group(2))


def ids(case) -> list[str]:
    return [r["id_no"] for r in case.good]


_READERS: dict[str, duckdb.DuckDBPyConnection] = {}


@contextmanager
def reader(wh: Path):
    """One read-only connection to each module world's warehouse (no test writes to it) for the 84 tests
    that each read a case of it (opening the file is ≈ 20 ms; eighteenth session)."""
    con = _READERS.get(str(wh))
    if con is None:
        con = _READERS[str(wh)] = duckdb.connect(str(wh), read_only=True)
    yield con


@pytest.fixture(scope="module", autouse=True)
def _readers_closed():
    yield
    while _READERS:
        _READERS.popitem()[1].close()


# ------------------------------------------------------------------------------------ feedback


@pytest.fixture(scope="module")
def feedback_world(tmp_path_factory):
    w = Wh(tmp_path_factory.mktemp("hostile-feedback"))
    with w.batch():  # ≈ 200 persons on one connection (support/feedback.py)
        groups = [[w.person().id_no for _ in range(5)] for _ in range(g.n_cases())]
    cases = g.feedback_cases(groups)
    paths = []
    for case in cases:
        paths.append(w.tmp / f"{case.name}.csv")
        paths[-1].write_bytes(case.data)

    def apply_all():  # one command for every file (one connection: the module stays fast)
        try:
            return apply_feedback_files(paths, w.path, w.settings, office="640104"), []
        except FeedbackFileRefused as exc:
            return exc.report, [str(exc)]

    (first, t1), (again, t2) = apply_all(), apply_all()
    texts = t1 + t2 + first.lines() + again.lines()
    results = {case.name: (case, f1, f2, texts) for case, f1, f2 in zip(cases, first.files, again.files)}
    return w, results


FEEDBACK_NAMES = [f"feedback-{d}-{p}" for d in g.DEFECTS for p in g.POSITIONS]


@pytest.mark.parametrize("name", FEEDBACK_NAMES)
def test_feedback_every_record_accounted_for(feedback_world, name):
    w, results = feedback_world
    case, out, again, texts = results[name]
    broken = [case.broken["id_no"]] if case.broken is not None else []
    with w.raw(read_only=True) as con:  # one connection for the three questions (each ≈ 20 ms to open)
        rows = con.execute(
            "SELECT row_no, status, reason_code, reason, person_key FROM feedback_rows WHERE file_name = ? "
            "ORDER BY row_no",
            [f"{name}.csv"],
        ).fetchall()
        every = con.execute(
            "SELECT id_no, stage FROM ledger_entries WHERE list_contains(?, id_no)", [ids(case) + broken]
        ).fetchall()
    assert sorted(i for i, _ in every) == sorted(ids(case) + broken), "one entry for each of the case's persons"
    stages = {i: st for i, st in every if i in ids(case)}
    if out.status == "REFUSED":
        assert rows == [] and set(stages.values()) == {"NOTIFIED"}, "a file refused whole applies nothing"
        assert again.status == "REFUSED", "a refused file is never 'already applied'"
    else:
        assert out.status == "APPLIED" and out.already_applied == 0
        assert out.accepted + out.refused == out.rows == len(rows)
        # every physical line after the header: a row of its own, inside a refused record that
        # spans it, or an empty line
        # (lines as the reader counts them: CR, LF and CRLF end a line outside quotes)
        lines = re.split(rb"\r\n|\r|\n", case.data)[1:-1]
        blank = sum(1 for ln in lines if not ln.replace(b",", b"").strip())
        assert sum(spans(r[3]) for r in rows) + blank == len(lines)
        for line, i in zip(case.good_lines, ids(case)):
            swallowed = any(covered(r[3], line) for r in rows if r[1] == "REFUSED")
            assert stages[i] == ("NOTIFIED" if swallowed else "ARCHIVE_REVIEWED"), (line, stages)
        for r in rows:
            if r[1] == "REFUSED":
                assert r[0] >= 1 and r[2] and r[3], r
        assert again.status == "ALREADY_APPLIED"
    if broken:
        assert dict(every)[broken[0]] == "NOTIFIED", "a broken record is never applied"
    assert_private(texts, ["测试"])


@pytest.mark.parametrize(
    "defect, outcome",
    [
        ("long_cell", "MALFORMED"),
        ("unclosed_quote", "BROKEN_QUOTING"),
        ("text_after_quote", "BROKEN_QUOTING"),
        ("more_cells", "MALFORMED"),
        ("fewer_cells", "MALFORMED"),
        ("bad_utf8", "ENCODING"),
        ("nul", "MALFORMED"),
        ("control", "MALFORMED"),
        ("bidi_override", "MALFORMED"),
        ("empty_line", None),
        ("spaces_line", None),
        ("bare_cr", "MIXED_LINE_ENDS"),
        ("quote_closed_later", "MALFORMED"),
        ("control_only_line", "MALFORMED"),
    ],
)
def test_feedback_broken_record_outcome(feedback_world, defect, outcome):
    w, results = feedback_world
    for p in g.POSITIONS:
        case, out, _, _ = results[f"feedback-{defect}-{p}"]
        if defect == "quote_closed_later" and p == "end":
            outcome = "BROKEN_QUOTING"  # nothing after it closes the quote
        if outcome in ("BROKEN_QUOTING", "ENCODING", "MIXED_LINE_ENDS"):
            assert out.status == "REFUSED" and out.reason.startswith(outcome), out
            assert "line" in out.reason
        elif outcome is None:
            assert (out.status, out.refused, out.accepted) == ("APPLIED", 0, 4), out
        else:
            assert out.status == "APPLIED" and out.reasons == {outcome: 1}, (p, out)


def test_feedback_long_cell_does_not_end_the_file(feedback_world):
    """The 140 KB note: refused as its own row, the rows after it applied (they were lost)."""
    w, results = feedback_world
    case, _, _, _ = results["feedback-long_cell-start"]
    assert w.q(
        "SELECT row_no, status FROM feedback_rows WHERE file_name = ? ORDER BY row_no", [f"{case.name}.csv"]
    ) == [(1, "REFUSED")] + [(k, "APPLIED") for k in range(2, 6)]


# ------------------------------------------------------------------------------------ applications


@pytest.fixture(scope="module")
def applications_world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile-applications")
    wh = tmp / "w.duckdb"
    with connect(wh):
        pass
    id_nos = [make_id(birth="19650101", seq=i) for i in range(1, 5 * g.n_cases() + 1)]
    results = {}
    for case in g.application_cases(id_nos):
        path = tmp / f"{case.name}.csv"
        path.write_bytes(case.data)
        texts, counts, again = [], None, None
        try:
            counts = load_applications([path], wh)
        except ApplicationsRefused as exc:
            texts.append(str(exc))
        try:
            again = load_applications([path], wh)
        except ApplicationsRefused as exc:
            texts.append(str(exc))
        results[case.name] = (case, counts, again, texts)
    return wh, results


@pytest.mark.parametrize("name", [f"applications-{d}-{p}" for d in g.DEFECTS for p in g.POSITIONS])
def test_applications_every_record_accounted_for(applications_world, name):
    wh, results = applications_world
    case, counts, again, texts = results[name]
    with reader(wh) as con:
        loaded = {
            r[0]
            for r in con.execute(
                "SELECT id_no FROM applications WHERE source_file LIKE ?", [f"{name}.csv#%"]
            ).fetchall()
        }
        refused = con.execute(
            "SELECT row_no, reason_code FROM applications_refused WHERE source_file LIKE ?", [f"{name}.csv#%"]
        ).fetchall()
    if counts is None:  # refused whole: nothing of it loaded, and refused again when sent again
        assert loaded == set() and refused == [] and again is None and len(texts) == 2
    else:
        assert counts["accepted"] + counts["refused"] == case.data_lines
        assert loaded == set(ids(case)), "every good row loaded"
        assert all(n >= 1 and code for n, code in refused)
        assert again["already loaded"] == 1
    assert_private(texts)


@pytest.mark.parametrize(
    "defect, outcome",
    [
        ("unclosed_quote", "whole"),
        ("quote_closed_later", "whole"),
        ("long_cell", "BAD_CHANNEL"),
        ("more_cells", "UNPARSABLE_ROW"),
        ("fewer_cells", "UNPARSABLE_ROW"),
        ("bad_utf8", "UNPARSABLE_ROW"),
        ("nul", "CONTROL_CHARACTER"),
        ("control", "CONTROL_CHARACTER"),
        ("bidi_override", "CONTROL_CHARACTER"),
    ],
)
def test_applications_broken_record_outcome(applications_world, defect, outcome):
    wh, results = applications_world
    for p in g.POSITIONS:
        case, counts, _, texts = results[f"applications-{defect}-{p}"]
        if outcome == "whole" and p != "end":
            assert counts is None and "quote" in texts[0], (p, texts)
            continue
        # a quote never closed on the last line swallows nothing: DuckDB rejects the line itself
        expected = "UNPARSABLE_ROW" if outcome == "whole" else outcome
        with duckdb.connect(str(wh), read_only=True) as con:
            got = con.execute(
                "SELECT row_no, reason_code FROM applications_refused WHERE source_file LIKE ?", [f"{case.name}.csv#%"]
            ).fetchall()
        assert got == [(case.broken_line - 1, expected)], (p, got)


# ------------------------------------------------------------------------------------ push


def _one(rep, batch_id):
    """The part of an ingest report about one batch."""
    from pipelines.ingest import IngestReport

    return IngestReport(
        applied=[a for a in rep.applied if a["batch_id"] == batch_id],
        noop=[b for b in rep.noop if b == batch_id],
        refused=[r for r in rep.refused if r.batch == batch_id],
    )


@pytest.fixture(scope="module")
def push_world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile-push")
    wh = tmp / "w.duckdb"
    cases, folders = g.push_cases(), []
    for seq, case in enumerate(cases, start=1):
        folders.append(
            write_batch(
                tmp / case.name,
                [],
                [],
                seq=seq,
                raw_files={"persons": case.data},
                rows_override={"persons": case.data_lines},
            )
        )
    # one command for every batch, in seq order (one connection: the module stays fast)
    rep, again = ingest_batches(folders, wh, validate=False), ingest_batches(folders, wh, validate=False)
    results = {}
    for seq, (case, folder) in enumerate(zip(cases, folders), start=1):
        bid = f"NX-2026-11-{seq:04d}"
        results[case.name] = (case, seq, _one(rep, bid), _one(again, bid))
    return wh, results


@pytest.mark.parametrize("name", [f"push-{d}-{p}" for d in g.DEFECTS for p in g.POSITIONS])
def test_push_every_record_accounted_for(push_world, name):
    wh, results = push_world
    case, seq, rep, again = results[name]
    with reader(wh) as con:
        have = {
            r[0] for r in con.execute("SELECT id_no FROM person_versions WHERE valid_from_seq = ?", [seq]).fetchall()
        }
        quarantined = con.execute("SELECT row_no, reason_code FROM quarantine_rows WHERE seq = ?", [seq]).fetchall()
    if rep.refused:
        assert not rep.applied and have == set() and quarantined == []
        assert again.refused and not again.noop, "a refused batch is never 'already applied'"
    else:
        a = rep.applied[0]
        assert a["persons_accepted"] + a["persons_quarantined"] == case.data_lines == a["persons_rows"]
        assert set(ids(case)) <= have, "every good row applied"
        assert len(quarantined) == a["persons_quarantined"] and all(n >= 1 and c for n, c in quarantined)
        assert again.noop == [a["batch_id"]]
    assert_private([str(r) for r in rep.refused] + rep.lines(), ["测试"])


@pytest.mark.parametrize(
    "defect, outcome",
    [
        ("nul", "CONTROL_CHARACTER"),
        ("control", "CONTROL_CHARACTER"),
        ("bidi_override", "CONTROL_CHARACTER"),
        ("bad_utf8", "UNPARSABLE_ROW"),
        ("more_cells", "UNPARSABLE_ROW"),
        ("fewer_cells", "UNPARSABLE_ROW"),
        ("unclosed_quote", "refused"),
        ("long_cell", None),
        ("empty_line", None),
    ],
)
def test_push_broken_record_outcome(push_world, defect, outcome):
    wh, results = push_world
    for p in g.POSITIONS:
        case, seq, rep, _ = results[f"push-{defect}-{p}"]
        if outcome == "refused" and p != "end":
            why = str(rep.refused[0]) if rep.refused else ""
            assert "never closed" in why or "cannot be parsed" in why, (p, rep.lines())
            continue
        if outcome == "refused":  # on the last line it swallows nothing: DuckDB rejects the line itself
            outcome = "UNPARSABLE_ROW"
        with duckdb.connect(str(wh), read_only=True) as con:
            got = con.execute("SELECT row_no, reason_code FROM quarantine_rows WHERE seq = ?", [seq]).fetchall()
        assert not rep.refused, (p, rep.lines())
        assert got == ([] if outcome is None else [(case.broken_line - 1, outcome)]), (p, got)


def test_push_refusals_are_explained_to_the_leaders_in_chinese(push_world):
    """Every batch the hostile corpus has refused (twice: given again) has its 说明 on the leaders'
    page (sql/report/60_refused_batches.sql), not "—"."""
    wh, results = push_world
    assert any(rep.refused for _, _, rep, _ in results.values())
    assert unexplained_refusals(wh) == []


def test_push_nul_name_is_never_stored(push_world):
    wh, _ = push_world
    with duckdb.connect(str(wh), read_only=True) as con:
        assert (
            con.execute(
                "SELECT count(*) FROM person_versions WHERE regexp_matches(concat_ws('', name, "
                "employer_name, phone), '[\\x00\\x1b\\x{202e}]')"
            ).fetchone()[0]
            == 0
        )


# ------------------------------------------------------------------------------------ Parquet, manifest


def test_parquet_binary_text_is_read_as_utf8(tmp_path):
    ps = [person(i) for i in range(1, 41)]
    ps[0]["name"] = "于宝"
    wh = tmp_path / "w.duckdb"
    rep = ingest_batches([g.parquet_binary_text(tmp_path / "b", ps, invalid_row=3)], wh, validate=False)
    assert not rep.refused, rep.lines()
    with duckdb.connect(str(wh), read_only=True) as con:
        names = dict(con.execute("SELECT id_no, name FROM person_versions").fetchall())
        q = con.execute("SELECT row_no, reason_code FROM quarantine_rows").fetchall()
    assert names[ps[0]["id_no"]] == "于宝" and names[ps[1]["id_no"]] == "测试2"
    assert q == [(4, "UNPARSABLE_ROW")] and ps[3]["id_no"] not in names


def test_parquet_list_column_is_refused_whole(tmp_path):
    ps = [person(i) for i in range(1, 4)]
    wh = tmp_path / "w.duckdb"
    rep = ingest_batches([g.parquet_binary_text(tmp_path / "b", ps, list_column=True)], wh, validate=False)
    assert rep.refused and "column name is a nested Parquet type (LIST)" in str(rep.refused[0]), rep.lines()
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM person_versions").fetchone()[0] == 0


@pytest.mark.parametrize("month", g.BAD_MANIFEST_MONTHS)
def test_manifest_month_outside_1900_2099_is_refused(tmp_path, month):
    b = write_batch(tmp_path / "b", [person(1)], [], month=month)
    rep = ingest_batches([b], tmp_path / "w.duckdb", validate=False)
    assert rep.refused and "data_month must be YYYY-MM of the years 1900-2099" in str(rep.refused[0])


def test_symlinked_manifest_is_refused(tmp_path):
    outside = write_batch(tmp_path / "elsewhere", [person(1)], [])
    b = write_batch(tmp_path / "b", [person(1)], [])
    (b / "manifest.json").unlink()
    (b / "manifest.json").symlink_to(outside / "manifest.json")
    rep = ingest_batches([b], tmp_path / "w.duckdb", validate=False)
    assert rep.refused and "manifest.json is a symbolic link" in str(rep.refused[0])


def test_birth_date_after_the_data_month_is_quarantined(tmp_path):
    ps = [person(i) for i in range(1, 41)]
    ps[7] = person(8, birth_date="20261201")  # the month after the data month 2026-11
    ps[9] = person(10, birth_date="20261130")  # the data month's last day: fine (if odd)
    wh = tmp_path / "w.duckdb"
    rep = ingest_batches([write_batch(tmp_path / "b", ps, [], month="2026-11")], wh, validate=False)
    assert not rep.refused, rep.lines()
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("SELECT row_no, reason_code FROM quarantine_rows").fetchall() == [(8, "BAD_BIRTH_DATE")]


# ------------------------------------------------------------------------------------ the CLI


def _cli(*argv) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def test_cli_exit_codes_and_one_line_refusals(tmp_path):
    w = Wh(tmp_path)
    with w.batch():
        groups = [[w.person().id_no for _ in range(5)]] * g.n_cases()  # the same five persons in every case
    by_name = {c.name: c for c in g.feedback_cases(groups)}
    refused = tmp_path / "refused.csv"
    refused.write_bytes(by_name["feedback-unclosed_quote-middle"].data)
    rc, out, err = _cli(
        "feedback", "--office", "640104", refused, "--warehouse", w.path, "--out", Path(w.path).parent / "out"
    )
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "BROKEN_QUOTING" in err and "line 4" in err
    quarantined = tmp_path / "nul.csv"
    quarantined.write_bytes(by_name["feedback-nul-end"].data)
    rc, out, err = _cli(
        "feedback", "--office", "640104", quarantined, "--warehouse", w.path, "--out", Path(w.path).parent / "out"
    )
    assert rc == 0 and err == "" and "5 rows, 4 accepted" in out and "MALFORMED 1" in out
    rc, out, err = _cli(
        "feedback", "--office", "640999", quarantined, "--warehouse", w.path, "--out", Path(w.path).parent / "out"
    )
    assert rc == 2 and "is not one of the responsible offices" in err
    assert_private([out, err], ["测试"])

    apps = tmp_path / "apps.csv"
    apps.write_bytes(g.application_cases(groups[0] * g.n_cases())[3].data)  # unclosed_quote-start
    rc, out, err = _cli("applications", apps, "--warehouse", w.path)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "never closed" in err, err
    assert_private([out, err])


# ------------------------------------------------------------------------------------ headers, long cells


def test_a_header_that_is_not_one_csv_line_is_refused_not_an_internal_error(tmp_path):
    """An unclosed quote in the header read the whole file as one cell, past the csv module's
    field limit: "internal error (Error)" instead of a refusal."""
    apps = tmp_path / "apps.csv"
    body = "".join(f"{make_id(seq=i)},2,20261105,online,640104\n" for i in range(1, 10_000))
    apps.write_text('id_no,"applicant_type,applied_on,channel,county_code\n' + body, encoding="utf-8")
    wh = tmp_path / "w.duckdb"
    with connect(wh):
        pass
    rc, out, err = _cli("applications", apps, "--warehouse", wh)
    assert rc == 2 and "header" in err and "internal error" not in err, err
    assert_private([out, err])


def test_push_long_cell_with_empty_lines_and_a_reject_is_accounted(tmp_path):
    """The rejects' row numbers are corrected for empty lines with Python's csv reader, whose
    field limit a long cell passed: an internal error, and nothing applied."""
    ps = [person(i) for i in range(1, 41)]
    ps[3]["employer_name"] = "x" * g.LONG
    text = "\n".join([",".join(PERSON_COLUMNS)] + [",".join(p[c] for c in PERSON_COLUMNS) for p in ps]) + "\n"
    lines = text.split("\n")
    lines.insert(10, "")  # an empty line (not a row)
    lines[20] += ",extra"  # a reject: data row 19 (the empty line is not a row)
    b = write_batch(
        tmp_path / "b", [], [], raw_files={"persons": "\n".join(lines).encode()}, rows_override={"persons": 40}
    )
    rep = ingest_batches([b], tmp_path / "w.duckdb", validate=False)
    assert not rep.refused, rep.lines()
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("SELECT row_no, reason_code FROM quarantine_rows").fetchall() == [(19, "UNPARSABLE_ROW")]
        assert con.execute(
            "SELECT length(employer_name) FROM person_versions WHERE id_no = ?", [ps[3]["id_no"]]
        ).fetchone() == (g.LONG,)


# ------------------------------------------------------------------------------------ one read


def test_a_feedback_file_changed_while_read_is_recorded_by_the_bytes_applied(tmp_path, monkeypatch):
    """The file is read once: its identity (file_sha256) is the bytes whose rows were applied.  It
    was read twice (the key from the first read, the rows from the second), so a file changed in
    between (an upload still going on) was recorded under bytes it did not apply."""
    from pipelines import feedback as fb

    w = Wh(tmp_path)
    a, b = w.person(), w.person()
    first = w.csv_bytes(g.feedback_rows([a.id_no]))
    later = w.csv_bytes(g.feedback_rows([b.id_no]))
    path = tmp_path / "fb.csv"
    path.write_bytes(first)
    reads = []
    real = Path.read_bytes

    def read_bytes(self):
        data = real(self)
        if self == path:
            reads.append(1)
            path.write_bytes(later)  # replaced right after being read
        return data

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    out = apply_feedback_files([path], w.path, w.settings, office="640104").files[0]
    assert len(reads) == 1
    assert out.sha256 == fb._file_key(first, "640104")
    assert (w.stage(a), w.stage(b)) == ("ARCHIVE_REVIEWED", "NOTIFIED")


def test_an_applications_file_changed_while_loaded_is_recorded_by_the_bytes_loaded(tmp_path, monkeypatch):
    """The rows loaded are those of the bytes hashed: a file replaced after its hash was taken was
    loaded under the first bytes' tag, so the first bytes, sent again, were "already loaded" and
    their rows never were."""
    from pipelines import ingest

    wh = tmp_path / "w.duckdb"
    with connect(wh):
        pass
    a, b = make_id(birth="19650101", seq=1), make_id(birth="19650101", seq=2)
    line = lambda i: f"{i},2,20261105,online,640104\n"  # noqa: E731
    head = ",".join(g.APPLICATION_COLUMNS) + "\n"
    path = tmp_path / "apps.csv"
    path.write_text(head + line(a), encoding="utf-8")
    real = ingest._sha256

    def sha_then_replace(p):
        digest = real(p)
        path.write_text(head + line(b), encoding="utf-8")  # replaced right after being hashed
        return digest

    monkeypatch.setattr(ingest, "_sha256", sha_then_replace)
    load_applications([path], wh)
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("SELECT id_no FROM applications").fetchall() == [(a,)]


def test_a_file_named_by_an_id_number_or_a_phone_is_not_echoed(tmp_path, caplog):
    """A clerk names a one-person file after the person (ID number, mobile): the report lines,
    refusals and log lines show the name with those digits masked, never the ID number or phone."""
    import logging

    w = Wh(tmp_path)
    a = w.person()
    wh = tmp_path / "apps.duckdb"
    with connect(wh):
        pass
    caplog.set_level(logging.INFO)
    texts = []
    good = tmp_path / f"{a.id_no}.csv"
    good.write_bytes(w.csv_bytes(g.feedback_rows([a.id_no, make_id(seq=900)])))
    bad = tmp_path / "13912345678-异议.csv"
    bad.write_bytes(b"\xff\xfe not UTF-8")
    try:
        apply_feedback_files([good, bad], w.path, w.settings, office="640104")
    except FeedbackFileRefused as exc:
        texts += [str(exc)] + exc.report.lines()
    apps = tmp_path / f"{a.id_no}-apps.csv"
    apps.write_text("id_no,channel\n", encoding="utf-8")
    with pytest.raises(ApplicationsRefused) as exc:
        load_applications([apps], wh)
    texts += [str(exc.value)] + [r.getMessage() for r in caplog.records]
    assert len(texts) > 3 and w.stage(a) == "ARCHIVE_REVIEWED"
    assert any(".csv" in t for t in texts)
    assert_private(texts)
