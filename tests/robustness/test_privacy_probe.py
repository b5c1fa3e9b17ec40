"""An adversarial probe of where personal data goes (the house rule: logs, errors, reports and
analyst files never carry an ID number, name or phone; county files carry only their own persons).

A world of hostile values — names, employer names, phones in every form, notes, objection texts,
file, folder and sheet names holding ID numbers and mobiles — was run through every command and
DAG task callable, and every log line, message, report, validation page, analysts' table and county
file was searched for the persons' data.  The data paths held; these are the edges that did not
(docs/decisions.md "Personal data at the edges (privacy probe)"):

* a push batch refused before its manifest is read is named by its folder, and a manifest naming a
  file outside the contract named that file: both verbatim in the refusal — the ``batches`` view
  (the report's 拒收批次, the analysts' file), the ingest's stdout and the DAG task's failure;
* a feedback file without its header line whose first row holds a value twice: the receipt's
  Chinese reason (and ``feedback_files.reason_zh``) named the "columns", i.e. the row's data,
  which the English reason masks;
* a mobile number written with brackets, ``(139)1234-5678``, was not masked in file, folder and
  sheet names or messages;
* the DAG tasks' failures carried a refusal's message as it was, where the command line masks it;
* the command line's argument errors (argparse) echoed the argument: ``--birth <an ID number>``;
* a receipt of a file refused before its office was known (``_no_office/``) was named after the
  file with its digits;
* a copied 反馈 sheet's name (free text: a person's name) was in the English reason, hence the
  log; it is the office's own receipt that needs it.
"""

from __future__ import annotations

import io
import json
import logging
import re
import unicodedata
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines.contract import personal_spans, shown_file_name, shown_text
from pipelines.errors import RetirePrepError
from support.feedback import D0, Wh, row
from support.pushkit import population, run_cli, write_batch

ID = "64010419660815003X"
MOBILE = "13912345678"
_SEPARATORS = re.compile(r"[\s\-._()（）\[\]【】\u200b-\u200f\u2010-\u2015\u2212]")


def _flat(text: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", str(text))).upper()


def assert_not_shown(texts: dict[str, str], *numbers: str) -> None:
    """No stretch of 7 digits of ``numbers`` in any of ``texts`` (as a reader would take the number:
    NFKC, separators and brackets removed)."""
    for digits in numbers:
        windows = {digits[i : i + 7] for i in range(len(digits) - 6)}
        for where, text in texts.items():
            flat = _flat(text)
            leaked = sorted(w for w in windows if w in flat)
            assert not leaked, f"{where} shows {leaked} of {digits}: {text!r}"


# ------------------------------------------------------------------------ push batches refused whole


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    """A warehouse with a small FULL applied (a refusal is recorded against a warehouse)."""
    from pipelines.ingest import ingest_batches

    tmp = tmp_path_factory.mktemp("pushed")
    persons, segments = population(3)
    wh = tmp / "w.duckdb"
    ingest_batches([write_batch(tmp / "full", persons, segments)], wh, validate=False)
    return wh


def _hostile_batches(inbox: Path) -> list[Path]:
    """Three batches refused whole, each carrying an ID number or a mobile where a name goes."""
    persons, segments = population(3)
    named = write_batch(inbox / "named-file", persons, segments, seq=2, month="2026-12")
    m = json.loads((named / "manifest.json").read_text(encoding="utf-8"))
    m["files"][f"王芳-{MOBILE}.csv"] = m["files"].pop("persons.csv")
    (named / "manifest.json").write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")
    not_json = inbox / "李娜 139 1234 5678"
    not_json.mkdir()
    (not_json / "manifest.json").write_text("{", encoding="utf-8")
    no_manifest = inbox / f"张伟 {ID[:6]} {ID[6:14]} {ID[14:]}"
    no_manifest.mkdir()
    return [named, not_json, no_manifest]


def test_a_refused_batch_never_shows_a_folder_or_file_name_with_a_persons_digits(pushed, tmp_path, caplog):
    """The command line and the DAG task: stdout, the log, the task's failure, and the ``batches``
    view (the report's 拒收批次 and the analysts' table ``batches``: the same SELECT)."""
    from pipelines import orchestration

    wh = tmp_path / "w.duckdb"
    wh.write_bytes(pushed.read_bytes())
    inbox = tmp_path / "inbox"
    batches = _hostile_batches(inbox)
    caplog.set_level(logging.DEBUG)
    code, out, err = run_cli("-v", "ingest", *batches, "--warehouse", wh)
    assert code == 2
    with pytest.raises(Exception) as failed:  # the DAG's ingest_push: folders holding a manifest.json
        orchestration.ingest_push_inbox(inbox, wh)
    with duckdb.connect(str(wh), read_only=True) as con:
        shown = con.execute("SELECT batch_id, message FROM batches WHERE status = 'REFUSED'").fetchall()
        reasons = con.execute("SELECT reason FROM batch_refusals").fetchall()
    texts = {"stdout": out, "stderr": err, "log": caplog.text, "task": str(failed.value)}
    texts |= {f"batches {i}": " ".join(map(str, r)) for i, r in enumerate(shown + reasons)}
    assert len(shown) == 5  # three by the command, two again by the task
    assert_not_shown(texts, ID, MOBILE)
    assert "王芳" not in out + str(shown)  # the file name outside the contract: not shown at all
    assert "is not one of ['persons.csv'" in out and "no manifest.json in the batch folder" in out


# ------------------------------------------------------------------- feedback: headers, sheets, names


def test_a_header_line_that_is_a_data_row_is_not_shown_in_the_receipt_either(tmp_path):
    """The header missing: the first line is a row, its ID number also in the note (two cells alike).
    The English reason masks the 'columns'; the Chinese one (receipt, ``reason_zh``) showed them."""
    from pipelines.feedback import apply_feedback_files
    from pipelines.feedback.format import _Refuse
    from pipelines.feedback.reading import _header
    from pipelines.feedback.receipts import reason_zh
    from pipelines.feedback.xlsx import _columns

    data_row = ["640104", "ARCHIVE_REVIEWED", ID, "2026-11-02", MOBILE, MOBILE, ID]
    for read in (_header, _columns):
        with pytest.raises(_Refuse) as exc:
            read(data_row)
        r = exc.value
        assert r.code == "BAD_HEADER"
        assert_not_shown({"reason": r.reason, "reason_zh": reason_zh(r.code, r.text, r.params)}, ID, MOBILE)
    wh = Wh(tmp_path)
    p = wh.person()
    f = tmp_path / "fb.csv"
    f.write_text(f"640104,ARCHIVE_REVIEWED,{p.id_no},2026-11-02,PASS,{p.id_no}\r\n", encoding="utf-8")
    with pytest.raises(RetirePrepError):
        apply_feedback_files([f], wh.path, office="640104", receipts=tmp_path / "r")
    (zh,) = wh.q("SELECT reason_zh FROM feedback_files")[0]
    assert_not_shown({"reason_zh": zh, **_receipts(tmp_path / "r")}, p.id_no)


def _receipts(folder: Path) -> dict[str, str]:
    texts = {}
    for p in sorted(folder.rglob("*.xlsx")):
        texts[f"name {p.relative_to(folder)}"] = str(p.relative_to(folder))
        with zipfile.ZipFile(io.BytesIO(p.read_bytes())) as z:
            texts[f"receipt {p.name}"] = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return texts


@pytest.mark.parametrize(
    "text,digits",
    [
        ("fb-(139)1234-5678.csv", MOBILE),
        ("+86 (139) 1234 5678.csv", MOBILE),
        ("反馈（139）1234 5678.csv", MOBILE),
        ("【139】1234-5678.csv", MOBILE),
        ("fb-[139] 1234 5678.csv", MOBILE),
        ("fb (640104) 19660815 003X.csv", ID),
    ],
)
def test_digits_in_brackets_are_masked_too(text, digits):
    from pipelines.validate import scrub

    assert_not_shown({"shown": shown_file_name(text), "scrubbed": scrub(f"No such file: /in/{text}")}, digits)
    assert len(shown_text(text)) == len(text)


@pytest.mark.parametrize("name", ["feedback-640104-2026-12(2).csv", "fb (2).csv", "fb-640104-2026-11-3.csv"])
def test_a_sequence_in_brackets_stays_readable(name):
    assert shown_file_name(name) == name and personal_spans(name) == []


def test_a_copied_sheet_named_after_a_person_is_named_in_the_offices_receipt_only(tmp_path, caplog):
    """The sheet's name is free text an officer typed (a person's name): the office's receipt names
    it, so that the office finds it; the English reason — the log, the command's output — does not."""
    from pipelines.feedback import apply_feedback_files

    wh = Wh(tmp_path)
    wb = openpyxl.Workbook()
    wb.active.title = "反馈"
    wb.create_sheet("反馈 张伟 (139)1234-5678")
    book = tmp_path / "worklist.xlsx"
    wb.save(book)
    caplog.set_level(logging.INFO)
    with pytest.raises(RetirePrepError) as exc:
        apply_feedback_files([book], wh.path, office="640104", receipts=tmp_path / "r")
    (reason, zh), *_ = wh.q("SELECT reason, reason_zh FROM feedback_files")
    logged = caplog.text + str(exc.value) + "\n".join(exc.value.report.lines()) + reason
    assert "TWO_FEEDBACK_SHEETS" in logged and "张伟" not in logged
    assert_not_shown({"log": logged, **_receipts(tmp_path / "r")}, MOBILE)
    assert "反馈 张伟 (***)****-****" in zh  # the office's receipt names the sheet (its digits masked)


def test_a_receipt_of_a_file_of_no_office_is_not_named_with_the_persons_digits(tmp_path):
    """``_no_office/`` is the division's folder: the receipt's name masks the digits as its text does;
    two files whose names differ only there keep a receipt each."""
    from pipelines.feedback import apply_feedback_files

    wh = Wh(tmp_path)
    a, b = wh.person(), wh.person(office="640105")
    rows = [row(a, "ARCHIVE_REVIEWED", D0, result="PASS"), row(b, "ARCHIVE_REVIEWED", D0, result="PASS")]
    files = [wh.write(rows, name=f"mixed-{MOBILE}.csv"), wh.write(rows[::-1], name="mixed-13987654321.csv")]
    with pytest.raises(RetirePrepError):
        apply_feedback_files(files, wh.path, receipts=tmp_path / "r")
    texts = _receipts(tmp_path / "r")
    assert len(texts) == 4  # a receipt each (name and text)
    assert_not_shown(texts, MOBILE, "13987654321")


# ------------------------------------------------------------------------ the DAGs and the command line


def test_a_dag_tasks_failure_masks_as_the_command_line_does(tmp_path):
    """The command line masks a refusal's message (``cli._refuse``); a DAG task failed with it as it
    was.  And a stray file in a folder named with brackets around the mobile's first digits."""
    from pipelines import orchestration

    exc = orchestration._fail_without_retry(RetirePrepError(f"file fb-{MOBILE}.csv, row 2 ({ID})"))
    assert_not_shown({"failure": str(exc)}, ID, MOBILE)
    wh = Wh(tmp_path)
    stray = tmp_path / "inbox" / "张伟 (139)1234-5678"
    stray.mkdir(parents=True)
    (stray / "fb.csv").write_bytes(wh.csv_bytes([]))
    from support.feedback import settled

    settled(stray / "fb.csv")
    with pytest.raises(Exception, match="in no office's folder") as failed:
        orchestration.apply_feedback_inbox(tmp_path / "inbox", wh.path)
    assert_not_shown({"failure": str(failed.value)}, MOBILE)


def test_a_dag_tasks_unexpected_failure_and_chained_cause_are_masked(tmp_path, monkeypatch):
    """Airflow prints a task's exception with its chained cause: a refusal's unmasked original, or
    DuckDB's message quoting a row's value (a bug), reached the task log as it was."""
    import traceback

    from pipelines import monthly, orchestration

    monkeypatch.setenv("RETIRE_PREP_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("RETIRE_PREP_OUT", str(tmp_path / "out"))

    def bug(*a, **k):
        raise duckdb.ConversionException(f"Could not convert string '{ID}' to INT32 (phone {MOBILE})")

    def refused(*a, **k):
        raise RetirePrepError(f"file fb-{MOBILE}.csv, row 2 ({ID})")

    for fault, kind in ((bug, orchestration.TaskError), (refused, Exception)):
        monkeypatch.setattr(monthly, "stage_run", fault)
        with pytest.raises(kind) as failed:
            orchestration.stage("screen", "2026-11")
        shown = "".join(traceback.format_exception(failed.value))
        assert_not_shown({"task log": shown}, ID, MOBILE)
        assert failed.value.__cause__ is None and failed.value.__suppress_context__
    monkeypatch.setattr(monthly, "stage_run", bug)
    with pytest.raises(orchestration.TaskError, match="ConversionException") as failed:
        orchestration.stage("screen", "2026-11")
    assert "test_privacy_probe.py" in str(failed.value)  # the traceback kept, for the division's engineers


@pytest.mark.parametrize(
    "args",
    [
        ("policy", "--gender", "1", "--birth", ID),
        ("explain", ID, "张伟", "139-1234-5678", "--month", "2026-11"),
        ("policy", "--gender", MOBILE, "--birth", "1966-08"),
    ],
)
def test_an_argument_error_is_one_line_without_the_persons_digits(args):
    """README: a refused input ends with one line on stderr, never an ID number, name or phone —
    argparse's errors too (an ID number pasted into --birth, a name and mobile after the ID)."""
    code, out, err = run_cli(*args)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert_not_shown({"stderr": err}, ID, MOBILE)
