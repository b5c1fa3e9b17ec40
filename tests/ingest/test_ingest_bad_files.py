"""Files DuckDB cannot read, and inputs at the edge of the contract, through the command line.

Every case shows the clear error (exit 2, exactly one line on stderr, no ID number, name or phone
on the terminal) and that nothing was lost: a refused batch leaves the warehouse exactly as if it
had never been given (only its ``batch_refusals`` row), the other batches of the same command
line are applied, and a quarantined row keeps ``accepted + quarantined = rows``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import _unparsable_csv
from support.pushkit import PERSON_COLUMNS, csv_text, edit_manifest, make_id, population, rehash, run_cli, write_batch
from support.warehouse import q, unexplained_refusals

ID_RE = re.compile(r"[0-9]{17}[0-9Xx]")
PHONE_RE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
BAD = "NX-2026-11-0002"  # the bad batch of every push case: a FULL with seq 2


def cli_process(wh: Path, *args) -> subprocess.CompletedProcess:
    """``retire-prep ARGS --warehouse WH`` as its own process, in a clean environment (default
    settings, a test key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETIRE_PREP_")}
    env.update(PYTHONDONTWRITEBYTECODE="1", RETIRE_PREP_PERSON_KEY="test-key-bad-files")
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *map(str, args), "--warehouse", str(wh)],
        cwd=wh.parent,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def cli(wh: Path, *args) -> subprocess.CompletedProcess:
    """The same command through ``pipelines.cli.main`` in this process (the same code path as the
    process, whose entry point only exits with main's status; ``cli_process`` checks that part), in
    the same clean environment: no interpreter start and Great Expectations import per case."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("RETIRE_PREP_")}
    cwd = os.getcwd()
    try:
        for k in saved:
            del os.environ[k]
        os.environ["RETIRE_PREP_PERSON_KEY"] = "test-key-bad-files"
        os.chdir(wh.parent)
        code, out, err = run_cli(*args, "--warehouse", wh)
    finally:
        os.chdir(cwd)
        os.environ.pop("RETIRE_PREP_PERSON_KEY", None)
        os.environ.update(saved)
    return subprocess.CompletedProcess(["retire-prep", *map(str, args)], code, out, err)


def assert_clean(p: subprocess.CompletedProcess) -> None:
    for text in (p.stdout, p.stderr):
        assert "Traceback" not in text
        assert not ID_RE.search(text), "an ID number on the terminal"
        assert "测试" not in text, "a name on the terminal"
        assert not PHONE_RE.search(text), "a phone on the terminal"


def assert_refused(p: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2 and exactly one line on stderr, holding every fragment."""
    assert p.returncode == 2, p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    assert_clean(p)
    return lines[0]


def snapshot(wh: Path) -> dict:
    """What the warehouse holds, without load times, folders and refusals."""
    return {
        "push_batches": q(wh, "SELECT * EXCLUDE (received_at, applied_at, source_dir) FROM push_batches ORDER BY seq"),
        "person_versions": q(wh, "SELECT * FROM person_versions ORDER BY ALL"),
        "segment_versions": q(wh, "SELECT * FROM segment_versions ORDER BY ALL"),
        "quarantine_rows": q(wh, "SELECT * FROM quarantine_rows ORDER BY ALL"),
        "applications": q(wh, "SELECT * EXCLUDE (loaded_at) FROM applications ORDER BY ALL"),
        "applications_refused": q(wh, "SELECT * EXCLUDE (loaded_at) FROM applications_refused ORDER BY ALL"),
    }


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A good FULL (seq 1), a good INCR on it (seq 3), and the warehouse of just those two:
    what every run with a refused seq 2 between them must leave."""
    root = tmp_path_factory.mktemp("good")
    ps, ss = population(40)
    full1 = write_batch(root / "full1", ps, ss, seq=1)
    incr3 = write_batch(
        root / "incr3", [dict(ps[0], op="U", phone="13700000003")], ss[:2], seq=3, push_type="INCR", base_seq=1
    )
    ref = root / "ref" / "w.duckdb"
    ref.parent.mkdir()
    p = cli(ref, "ingest", full1, incr3)
    assert p.returncode == 0, p.stderr
    return ps, ss, full1, incr3, snapshot(ref)


def assert_refused_whole(tmp_path: Path, good, bad: Path, *fragments: str, code: str = "BATCH", run=cli) -> None:
    """Run ``ingest full1 BAD incr3``: BAD is refused with one line, recorded, and leaves nothing;
    the batches before and after it on the command line are applied."""
    _, _, full1, incr3, ref = good
    wh = tmp_path / "w.duckdb"
    p = run(wh, "ingest", full1, bad, incr3)
    assert_refused(p, *fragments)
    assert [ln.split()[0] for ln in p.stdout.splitlines() if not ln.startswith("retire-prep:")] == [
        "applied",
        "applied",
        "REFUSED",
    ]
    assert snapshot(wh) == ref
    refusals = q(wh, "SELECT seq, reason_code, reason FROM batch_refusals")
    assert len(refusals) == 1 and refusals[0][1] == code
    assert not ID_RE.search(refusals[0][2]) and "测试" not in refusals[0][2]
    # the leaders' report explains it in Chinese (a new refusal text needs its line in
    # sql/report/60_refused_batches.sql, else the page shows "—")
    assert unexplained_refusals(wh) == []


# --------------------------------------------------------------------------- finding 2: unparsable files


def _persons_bytes(ps, defect: str) -> bytes:
    """persons.csv (LF) of ``ps`` with one line-end defect at data row 5 (or all rows)."""
    header, *rows = csv_text(ps).encode().split(b"\n")[:-1]
    if defect == "bare_cr_in_name":
        rows[4] = rows[4].replace("测试5".encode(), "测试\r5".encode())
    elif defect == "one_crlf_row":
        rows[4] += b"\r"
    elif defect == "lf_header_crlf_rows":
        rows = [r + b"\r" for r in rows]
    elif defect == "crlf_header_lf_rows":
        header += b"\r"
    return b"\n".join([header, *rows]) + b"\n"


@pytest.mark.parametrize(
    "defect,line",
    [
        ("bare_cr_in_name", 6),
        ("one_crlf_row", 6),
        ("lf_header_crlf_rows", 2),
        ("crlf_header_lf_rows", 2),
    ],
)
def test_csv_duckdb_cannot_parse_refuses_its_batch_whole(tmp_path, good, defect, line):
    ps, ss, *_ = good
    bad = write_batch(tmp_path / "bad2", ps, ss, seq=2, raw_files={"persons": _persons_bytes(ps, defect)})
    assert_refused_whole(
        tmp_path,
        good,
        bad,
        f"batch {BAD}, file persons.csv: the file cannot be parsed as CSV",
        f"at line {line} (the header is line 1)",
    )


def test_csv_carriage_return_inside_quotes_is_data(tmp_path, good):
    # RFC 4180 allows it, and DuckDB reads it: only a CR outside quotes is a defect
    ps, ss, full1, *_ = good
    rows = [dict(p) for p in ps]
    rows[4]["employer_name"] = "EMPLOYER"
    data = csv_text(rows).encode().replace(b"EMPLOYER", '"宁夏\r有限公司"'.encode())
    wh = tmp_path / "w.duckdb"
    p = cli(wh, "ingest", full1, write_batch(tmp_path / "b2", ps, ss, seq=2, raw_files={"persons": data}))
    assert p.returncode == 0, p.stderr
    assert_clean(p)
    assert "applied NX-2026-11-0002 (seq 2, FULL): persons 40/40 accepted, 0 quarantined" in p.stdout
    assert q(wh, "SELECT employer_name FROM person_versions WHERE valid_to_seq IS NULL AND name = '测试5'") == [
        ("宁夏\r有限公司",)
    ]


def _corrupt_pages(folder: Path, ps) -> None:
    """Zero every data page of persons.parquet: the footer (and its magic) stay sound."""
    path = folder / "persons.parquet"
    data = bytearray(path.read_bytes())
    pages_end = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    data[4:pages_end] = bytes(pages_end - 4)
    path.write_bytes(bytes(data))


def _damaged_footer(folder: Path, ps) -> None:
    """Garble the footer's first bytes (its statistics hold ID numbers)."""
    path = folder / "persons.parquet"
    data = bytearray(path.read_bytes())
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    data[footer : footer + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))


def _invalid_utf8_value(folder: Path, ps) -> None:
    """An uncompressed persons.parquet whose row 5 id_no is an ID number and a byte that is not
    UTF-8: DuckDB's own message quotes the value, ID number included."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [dict(p) for p in ps]
    rows[4]["id_no"] += "Z"
    path = folder / "persons.parquet"
    pq.write_table(pa.table({c: [r[c] for r in rows] for c in PERSON_COLUMNS}), path, compression="NONE")
    data = path.read_bytes()
    marked = rows[4]["id_no"].encode()
    assert data.count(marked) == 1
    path.write_bytes(data.replace(marked, marked[:-1] + b"\xff"))


@pytest.mark.parametrize(
    "corrupt,fragment",
    [
        (_corrupt_pages, "unreadable Parquet data (corrupt pages or values)"),
        (_invalid_utf8_value, "unreadable Parquet data (corrupt pages or values)"),
        (_damaged_footer, "unreadable Parquet (not a Parquet file, or its footer is damaged)"),
    ],
    ids=["corrupt_pages", "invalid_utf8_value", "damaged_footer"],
)
def test_parquet_duckdb_cannot_read_refuses_its_batch_whole(tmp_path, good, corrupt, fragment):
    ps, ss, *_ = good
    bad = write_batch(tmp_path / "bad2", ps, ss, seq=2, fmt="parquet")
    corrupt(bad, ps)
    rehash(bad)
    assert_refused_whole(tmp_path, good, bad, f"batch {BAD}, file persons.parquet: {fragment}")


def test_a_line_duckdb_names_is_given_as_a_row_without_the_original_line(tmp_path):
    # DuckDB's own message quotes the line; only its number is kept (records, header = 1).
    exc = duckdb.InvalidInputException(
        f"CSV Error on Line: 7\nOriginal Line: {make_id()},测试7,13912345678\nExpected Number of Columns: 21"
    )
    reason, row = _unparsable_csv(exc, tmp_path / "persons.csv")
    assert row == 6
    assert "\n" not in reason and not ID_RE.search(reason) and "测试" not in reason and "139" not in reason


# --------------------------------------------------------------------------- finding 6: GB18030


def test_gb18030_byte_that_is_not_gb18030_quarantines_only_its_row_like_utf8(tmp_path, good):
    ps, ss, *_ = good
    outcome = {}
    for enc in ("UTF-8", "GB18030"):
        codec = "gb18030" if enc == "GB18030" else "utf-8"
        name = "测试5".encode(codec)
        data = csv_text(ps).encode(codec).replace(name, b"\xff" + name[1:], 1)
        folder = write_batch(tmp_path / enc / "b1", ps, ss, seq=1, encoding=enc, raw_files={"persons": data})
        wh = tmp_path / enc / "w.duckdb"
        p = cli(wh, "ingest", folder)
        assert p.returncode == 0, p.stderr
        assert p.stderr == ""
        assert_clean(p)
        assert "persons 39/40 accepted, 1 quarantined" in p.stdout
        (acc,) = q(
            wh,
            "SELECT persons_rows, persons_accepted, persons_quarantined, segments_rows, "
            "segments_accepted, segments_quarantined FROM push_batches",
        )
        assert acc[1] + acc[2] == acc[0] == 40 and acc[4] + acc[5] == acc[3] == 80
        outcome[enc] = q(wh, "SELECT file, row_no, reason_code FROM quarantine_rows ORDER BY file, row_no")
    assert (
        outcome["GB18030"]
        == outcome["UTF-8"]
        == [("persons", 5, "UNPARSABLE_ROW"), ("segments", 9, "ORPHAN_SEGMENT"), ("segments", 10, "ORPHAN_SEGMENT")]
    )


# --------------------------------------------------------------------------- findings 7, 12, 13: the manifest


def _set(key, value):
    def edit(folder: Path) -> None:
        m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if key == "rows":
            m["files"]["persons.csv"]["rows"] = value
        else:
            m[key] = value
        edit_manifest(folder, **m)

    return edit


@pytest.mark.parametrize(
    "edit,fragment",
    [
        (_set("batch_id", f"{BAD}\n"), "file manifest.json: batch_id must match [0-9A-Za-z-]{1,64}"),
        (_set("data_month", "2026-11\n"), "file manifest.json: data_month must be YYYY-MM"),
        (_set("data_month", "٢٠٢٦-11"), "file manifest.json: data_month must be YYYY-MM"),
        (_set("seq", 2**63), "file manifest.json: seq must be an integer from 1 to 2^63-1"),
        (_set("seq", 10**30), "file manifest.json: seq must be an integer from 1 to 2^63-1"),
        (_set("rows", True), "file manifest.json: files.persons.csv needs rows (integer from 0 to 2^63-1)"),
        (_set("rows", 2**63), "file manifest.json: files.persons.csv needs rows (integer from 0 to 2^63-1)"),
    ],
    ids=["batch_id_newline", "month_newline", "month_arabic_digits", "seq_2_63", "seq_huge", "rows_true", "rows_2_63"],
)
def test_manifest_field_out_of_contract_refuses_its_batch(tmp_path, good, edit, fragment):
    ps, ss, *_ = good
    bad = write_batch(tmp_path / "bad2", ps, ss, seq=2)
    edit(bad)
    assert_refused_whole(tmp_path, good, bad, fragment, code="MANIFEST")


def test_incr_base_seq_beyond_64_bits_is_refused(tmp_path, good):
    ps, ss, *_ = good
    bad = write_batch(tmp_path / "bad2", ps[:1], ss[:2], seq=2, push_type="INCR", base_seq=1)
    edit_manifest(bad, seq=2**63 + 1, base_seq=2**63)
    assert_refused_whole(
        tmp_path, good, bad, "seq must be an integer from 1 to 2^63-1", code="MANIFEST", run=cli_process
    )  # one case as its own process: the entry point's exit and stderr


# --------------------------------------------------------------------------- findings 3 and 8: applications


APP_HEADER = "id_no,applicant_type,applied_on,channel,county_code"


@pytest.fixture(scope="module")
def _apps_template(tmp_path_factory, good):
    _, _, full1, *_ = good
    wh = tmp_path_factory.mktemp("apps") / "w.duckdb"
    assert cli(wh, "ingest", full1).returncode == 0
    return wh


@pytest.fixture
def apps_wh(tmp_path, _apps_template):
    """A warehouse holding the good FULL (applications need one), fresh for each test."""
    wh = tmp_path / "w.duckdb"
    shutil.copyfile(_apps_template, wh)
    return wh


def _apps_file(folder: Path, name: str, text: str | bytes) -> Path:
    f = folder / name
    f.write_bytes(text.encode() if isinstance(text, str) else text)
    return f


def _loaded(wh: Path, name: str) -> tuple[list, list]:
    like = [f"{name}#%"]
    return (
        q(wh, "SELECT applied_on FROM applications WHERE source_file LIKE ? ORDER BY applied_on", like),
        q(wh, "SELECT row_no, reason_code FROM applications_refused WHERE source_file LIKE ? ORDER BY row_no", like),
    )


def test_applications_record_with_an_extra_field_is_kept_as_unparsable(tmp_path, apps_wh):
    ids = [make_id(seq=i) for i in (1, 2, 3)]
    f = _apps_file(
        tmp_path,
        "apps.csv",
        f"{APP_HEADER}\n{ids[0]},2,20261105,online,640104\n"
        f"{ids[1]},2,20261105,online,640104,EXTRA\n"
        f"{ids[2]},1,20261106,counter,640521\n",
    )
    p = cli(apps_wh, "applications", f)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert_clean(p)
    assert json.loads(p.stdout) == {"files": 1, "accepted": 2, "refused": 1, "already loaded": 0}
    accepted, refused = _loaded(apps_wh, "apps.csv")
    assert refused == [(2, "UNPARSABLE_ROW")]
    assert len(accepted) + len(refused) == 3  # every data row accounted for


def test_applications_applied_on_needs_exactly_8_digits(tmp_path, apps_wh):
    ids = [make_id(seq=i) for i in (1, 2, 3)]
    f = _apps_file(
        tmp_path,
        "apps.csv",
        f"{APP_HEADER}\n{ids[0]},2,2026113,online,640104\n"
        f"{ids[1]},2,20261103,online,640104\n{ids[2]},2,020261103,online,640104\n",
    )
    p = cli(apps_wh, "applications", f)
    assert p.returncode == 0, p.stderr
    assert_clean(p)
    accepted, refused = _loaded(apps_wh, "apps.csv")
    assert [str(a[0]) for a in accepted] == ["2026-11-03"]
    assert refused == [(1, "BAD_APPLIED_ON"), (3, "BAD_APPLIED_ON")]


_ID = make_id(seq=7)


@pytest.mark.parametrize(
    "text,fragment",
    [
        (
            f"{APP_HEADER}\n{_ID},2,20261106,online,640104\r\n{_ID},1,20261106,online,640104\n",
            "the file cannot be parsed as CSV: stray carriage return or mixed LF/CRLF line ends at line 2",
        ),
        (
            f"{APP_HEADER}\n{_ID},2,2026\r1106,online,640104\n",
            "the file cannot be parsed as CSV: stray carriage return or mixed LF/CRLF line ends at line 2",
        ),
        (
            f"{APP_HEADER},remark's\n{_ID},2,20261103,online,640104,x\n",
            'header has columns not in the contract ["remark\'s"]',
        ),
        (f"{APP_HEADER},id_no\n{_ID},2,20261103,online,640104,{_ID}\n", "header repeats columns ['id_no']"),
        (f"{_ID},2,20261103,online,640104\n", "header lacks columns"),
    ],
    ids=["crlf_row", "bare_cr", "odd_extra_column", "repeated_column", "no_header"],
)
def test_applications_file_that_cannot_be_read_is_refused_whole(tmp_path, apps_wh, text, fragment):
    ids = [make_id(seq=i) for i in (1, 2)]
    ok = _apps_file(
        tmp_path, "ok.csv", f"{APP_HEADER}\n{ids[0]},2,20261105,online,640104\n{ids[1]},1,20261106,counter,640521\n"
    )
    bad = _apps_file(tmp_path, "bad.csv", text)
    p = cli(apps_wh, "applications", ok, bad)
    assert_refused(p, "retire-prep: applications file bad.csv", fragment)
    assert _loaded(apps_wh, "bad.csv") == ([], [])  # nothing half-loaded
    assert len(_loaded(apps_wh, "ok.csv")[0]) == 2  # the file before it is loaded
    # given again once fixed: the loaded file is skipped, the fixed one loaded
    bad.write_text(f"{APP_HEADER}\n{_ID},2,20261103,online,640104\n")
    p = cli(apps_wh, "applications", ok, bad)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"files": 1, "accepted": 1, "refused": 0, "already loaded": 1}


def test_applications_file_name_with_a_quote(tmp_path, apps_wh):
    """The file's name tags its rows in SQL: a quote in it is data, not a broken statement."""
    f = _apps_file(tmp_path, "o'brien.csv", f"{APP_HEADER}\n{make_id(seq=1)},2,20261105,online,640104\n")
    p = cli(apps_wh, "applications", f)
    assert p.returncode == 0, p.stderr
    accepted, refused = _loaded(apps_wh, "o'brien.csv")
    assert len(accepted) == 1 and refused == []
