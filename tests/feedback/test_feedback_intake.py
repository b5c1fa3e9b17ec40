"""Reading and taking in feedback files (issue 16, eighth session: two reviewer findings).

(a) Excel's CSV: CRLF between rows, a bare LF for a line break typed in a cell (Alt+Enter). Line ends
    inside a quoted field are the cell's: the file is not refused MIXED_LINE_ENDS, and the cell's
    line break is kept.  Mixed line ends outside quotes are still refused whole.
(b) The feedback inbox takes a file only once it has settled (unchanged for
    ``feedback_settle_seconds``): a file still being uploaded is not applied with its last row cut.
"""

from __future__ import annotations

import os
import time

import pytest

from pipelines import orchestration
from pipelines.feedback import FeedbackFileRefused, apply_feedback_files
from support.feedback import D0, Wh, settled

HEAD = "office_code,event,id_no,event_date,result,note"


@pytest.fixture
def wh(tmp_path):
    return Wh(tmp_path)


def _apply(wh: Wh, text: str, name: str = "fb.csv"):
    path = wh.tmp / name
    path.write_bytes(text.encode("utf-8"))
    try:
        return apply_feedback_files([path], wh.path, wh.settings, office="640104").files[0]
    except FeedbackFileRefused as exc:
        return exc.report.files[0]


def _line(p, note: str = "") -> str:
    return f"640104,ARCHIVE_REVIEWED,{p.id_no},{D0.isoformat()},PASS,{note}"


# ------------------------------------------------------------------------- (a) line ends in quotes


def test_excel_csv_with_a_line_break_typed_in_a_note_is_applied_with_it(wh):
    a, b, c = wh.person(), wh.person(), wh.person()
    text = "\r\n".join([HEAD, _line(a), _line(b, '"材料已收\n下周复核"'), _line(c)]) + "\r\n"
    out = _apply(wh, text)
    assert (out.status, out.rows, out.accepted, out.refused) == ("APPLIED", 3, 3, 0), out
    assert [wh.stage(p) for p in (a, b, c)] == ["ARCHIVE_REVIEWED"] * 3
    assert wh.q("SELECT note FROM feedback_events WHERE note IS NOT NULL") == [("材料已收\n下周复核",)]


def test_a_stray_carriage_return_outside_quotes_still_refuses_the_file(wh):
    a, b = wh.person(), wh.person()
    # a quote inside an unquoted cell is text: it does not hide the stray CR that follows it
    text = "\r\n".join([HEAD, _line(a, 'screen 5" wide'), _line(b, "cut\rhere")]) + "\r\n"
    out = _apply(wh, text)
    assert out.status == "REFUSED" and out.reason.startswith("MIXED_LINE_ENDS"), out
    assert "line 3" in out.reason
    assert wh.stage(a) == "NOTIFIED"


def test_a_quote_closed_on_a_later_line_still_refuses_its_record(wh):
    """The file's own line end inside a cell: a quote opened and closed later swallowed the rows
    between (issue 14): that record is refused, naming its lines; the others are applied."""
    a, b, c = wh.person(), wh.person(), wh.person()
    text = "\r\n".join([HEAD, _line(a, '"oops'), _line(b, 'x"'), _line(c)]) + "\r\n"
    out = _apply(wh, text)
    assert (out.status, out.rows, out.refused, out.accepted) == ("APPLIED", 2, 1, 1), out
    assert wh.q("SELECT reason FROM feedback_rows WHERE status = 'REFUSED'") == [
        ("the record spans lines 2-3: a cell holds a line break (a quote opened and not closed on its line?)",)
    ]
    assert (wh.stage(a), wh.stage(b), wh.stage(c)) == ("NOTIFIED", "NOTIFIED", "ARCHIVE_REVIEWED")


def test_lf_file_with_a_line_break_in_a_cell_refuses_that_record_only(wh):
    """Rows ending with LF: a cell's LF cannot be told from a row's end swallowed by a quote, so the
    record is refused (as before), but the file is not refused whole."""
    a, b = wh.person(), wh.person()
    text = "\n".join([HEAD, _line(a, '"two\nlines"'), _line(b)]) + "\n"
    out = _apply(wh, text)
    assert (out.status, out.refused, out.accepted) == ("APPLIED", 1, 1), out


# ------------------------------------------------------------------------- (b) a file still arriving


@pytest.fixture
def inbox(wh, tmp_path, monkeypatch):
    monkeypatch.setenv("RETIRE_PREP_OUT", str(tmp_path / "out"))
    folder = tmp_path / "inbox"
    (folder / "640104").mkdir(parents=True)
    return folder


def test_inbox_leaves_a_file_still_being_uploaded_for_a_later_run(wh, inbox):
    ps = [wh.person() for _ in range(3)]
    whole = ("\r\n".join([HEAD] + [_line(p, "备注") for p in ps]) + "\r\n").encode("utf-8")
    f = inbox / "640104" / "fb-640104-2026-11.csv"
    # the upload has written the header, two rows and the start of the third: "…,PASS,备"
    f.write_bytes(whole[: whole.rindex("备注".encode()) + 3])
    got = orchestration.apply_feedback_inbox(inbox, wh.path)
    assert got["files"] == 0 and got["waiting"] == 1
    assert wh.q("SELECT count(*) FROM feedback_files") == [(0,)]  # nothing of it applied or recorded
    # the upload ends; once the file has not changed for the settle time, it is applied whole
    f.write_bytes(whole)
    assert orchestration.apply_feedback_inbox(inbox, wh.path)["waiting"] == 1  # just written
    settled(f)
    got = orchestration.apply_feedback_inbox(inbox, wh.path)
    assert (got["files"], got["waiting"]) == (1, 0)
    assert wh.q("SELECT rows, accepted, refused FROM feedback_files") == [(3, 3, 0)]
    assert wh.q("SELECT DISTINCT note FROM feedback_events") == [("备注",)]  # the last row's note whole


def test_settled_is_by_the_settle_time_of_the_settings(wh, inbox):
    f = inbox / "640104" / "a.csv"
    f.write_bytes(b"x")
    now = time.time()
    os.utime(f, (now - 100, now - 100))
    assert orchestration.settled([f], 120, now) == ([], [f])
    assert orchestration.settled([f], 60, now) == ([f], [])
    assert wh.settings.feedback_settle_seconds == 120
    (inbox / "640104" / "gone.csv").write_bytes(b"x")
    gone = inbox / "640104" / "gone.csv"
    gone.unlink()
    assert orchestration.settled([gone], 0, now) == ([], [])  # moved away meanwhile: not there


def test_a_stray_file_still_arriving_does_not_fail_the_task_yet(wh, inbox):
    (inbox / "stray.csv").write_bytes(b"office_code,event")
    assert orchestration.apply_feedback_inbox(inbox, wh.path) == {"files": 0, "waiting": 1}
    settled(inbox / "stray.csv")
    with pytest.raises(Exception, match="in no office's folder"):
        orchestration.apply_feedback_inbox(inbox, wh.path)


def test_inbox_writes_the_offices_receipts_under_out(wh, inbox, tmp_path):
    p = wh.person()
    f = inbox / "640104" / "fb.csv"
    f.write_bytes(("\r\n".join([HEAD, _line(p), _line(p).replace("PASS", "MAYBE")]) + "\r\n").encode())
    settled(f)
    orchestration.apply_feedback_inbox(inbox, wh.path)
    assert (tmp_path / "out" / "feedback" / "640104" / "fb.回执.xlsx").is_file()
