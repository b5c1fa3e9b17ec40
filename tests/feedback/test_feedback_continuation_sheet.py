"""A continuation sheet ``反馈(2)`` without its header (docs/feedback-format.md "Workbook").

A probe sent a workbook whose ``反馈(2)`` had row 1 empty and a RETIRED row below: the sheet was passed
over as empty, the file reported "applied … 0 rows" and the person's stage did not move — a county
officer's row lost without a word.  The 反馈 sheet in the same state is refused ``EMPTY_FILE``.  A
continuation sheet with rows but no header now refuses the whole file (``BAD_HEADER``); one with
nothing in it is still passed over.
"""

from __future__ import annotations

import openpyxl
import pytest

from pipelines import labels
from pipelines.feedback import FeedbackFileRefused, apply_feedback_files
from support.feedback import D0, Wh, row

HEAD = ("office_code", "event", "id_no", "event_date", "result")


@pytest.fixture
def wh(tmp_path):
    return Wh(tmp_path)


def _cells(r: dict) -> list:
    return [r.get(c) for c in HEAD]


def _book(wh: Wh, main_rows, second=None, *, main_header=True, name="worklist.xlsx"):
    """A workbook: 反馈 (its header and ``main_rows``) and, when ``second`` is given, 反馈(2) with
    those rows as they stand (a list of sheet rows from row 1: lists of cells, None for an empty row)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "反馈"
    ws.append([labels.label("feedback_column", c) for c in HEAD] if main_header else [None])
    for r in main_rows:
        ws.append(_cells(r))
    if second is not None:
        ws2 = wb.create_sheet("反馈(2)")
        for i, cells in enumerate(second, start=1):
            for j, v in enumerate(cells or []):
                ws2.cell(i, j + 1).value = v
    path = wh.tmp / name
    wb.save(path)
    return path


def _apply(wh: Wh, path):
    return apply_feedback_files([path], wh.path, wh.settings, office="640104", receipts=wh.tmp / "receipts")


@pytest.mark.parametrize(
    "first_rows",
    [
        [None],  # row 1 empty (the header's text deleted)
        [["  ", None, " "]],  # row 1 holds spaces only
        [None, None],  # the row further down
    ],
    ids=["row1-empty", "row1-spaces", "row3"],
)
def test_a_continuation_sheet_with_rows_but_no_header_refuses_the_file(wh, first_rows):
    a, b = wh.person(), wh.person()
    retired = _cells(row(b, "RETIRED", D0))
    path = _book(wh, [row(a, "ARCHIVE_REVIEWED", D0, result="PASS")], [*first_rows, retired])
    with pytest.raises(FeedbackFileRefused) as exc:
        _apply(wh, path)
    assert "BAD_HEADER" in str(exc.value) and "反馈(2)" in str(exc.value) and "header" in str(exc.value)
    assert exc.value.report.lines()[0].startswith("REFUSED worklist.xlsx: BAD_HEADER: the sheet 反馈(2)")
    # refused whole, as a bad 反馈 sheet is: nothing of the file applied, the reason recorded
    assert wh.q("SELECT status, reason_code FROM feedback_files") == [("REFUSED", "BAD_HEADER")]
    assert wh.one("SELECT count(*) FROM feedback_rows") == 0
    assert (wh.stage(a), wh.stage(b)) == ("NOTIFIED", "NOTIFIED")
    # the office is told in Chinese what to do
    zh = wh.one("SELECT reason_zh FROM feedback_files")
    assert "反馈(2)" in zh and "表头" in zh and "第1行" in zh
    assert (wh.tmp / "receipts" / "640104" / "worklist.回执.xlsx").is_file()


@pytest.mark.parametrize(
    "second",
    [[], [None, None, None], [["  "], [None, " "]]],
    ids=["no-cells", "empty-rows", "spaces-only"],
)
def test_an_empty_continuation_sheet_is_passed_over(wh, second):
    a = wh.person()
    path = _book(wh, [row(a, "ARCHIVE_REVIEWED", D0, result="PASS")], second)
    rep = _apply(wh, path)
    f = rep.files[0]
    assert (f.status, f.rows, f.accepted, f.refused) == ("APPLIED", 1, 1, 0)
    assert wh.stage(a) == "ARCHIVE_REVIEWED"


def test_a_continuation_sheet_with_its_header_is_read_on(wh):
    a, b = wh.person(), wh.person()
    head = [labels.label("feedback_column", c) for c in HEAD]
    path = _book(wh, [row(a, "ARCHIVE_REVIEWED", D0, result="PASS")], [head, _cells(row(b, "RETIRED", D0))])
    f = _apply(wh, path).files[0]
    assert (f.rows, f.accepted) == (2, 2)
    assert (wh.stage(a), wh.stage(b)) == ("ARCHIVE_REVIEWED", "RETIRED")
    assert wh.q("SELECT row_no FROM feedback_rows ORDER BY row_no") == [(1,), (2,)]  # numbers go on


def test_the_feedback_sheet_without_header_is_still_empty_file(wh):
    a = wh.person()
    path = _book(wh, [row(a, "RETIRED", D0)], main_header=False)
    with pytest.raises(FeedbackFileRefused) as exc:
        _apply(wh, path)
    assert "EMPTY_FILE" in str(exc.value) and wh.stage(a) == "NOTIFIED"
