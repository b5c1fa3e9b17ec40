"""A file named after a person: the name is shown with the digits of the ID number or mobile masked.

docs/feedback-format.md ("Whose file"): reports and logs show a feedback file's name with the digits
that may be an ID number or a mobile number masked.  rules.md §4 counts ``+86``/``0086``, spaces and
hyphens and full-width digits as forms of a phone; an ID number may be written in groups, its check
``x`` in lower case.  A probe named files ``反馈-+8613912345678.csv``, ``fb-139 1234 5678.csv`` and
``fb-６４０１０４１９６６０８１５００３Ｘ.csv``: all three were printed whole (only plain ASCII runs with
no digit before them were masked).  The real command is run here, in this process.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
import zipfile
from pathlib import Path

import openpyxl
import pytest

from pipelines.contract import personal_spans, shown_column_names, shown_file_name
from pipelines.feedback.format import _Refuse
from pipelines.feedback.xlsx import read_workbook
from pipelines.validate import scrub
from support.feedback import D0, Wh, row

OFFICE = "640104"

#: (file name, the person's digits in it): ID numbers and mobiles as a clerk may write them
NAMED_AFTER_A_PERSON = [
    ("反馈-+8613912345678.csv", "13912345678"),
    ("fb-139 1234 5678.csv", "13912345678"),
    ("fb-６４０１０４１９６６０８１５００３Ｘ.csv", "64010419660815003X"),
    ("+86 139-1234-5678.csv", "13912345678"),
    ("0086 13912345678.csv", "13912345678"),
    ("异议-64010419660815003x.csv", "64010419660815003X"),
    ("fb-640104 19660815 003X.csv", "64010419660815003X"),
    ("fb-6401 0419 6608 1500 3X.csv", "64010419660815003X"),
    ("fb-１３９１２３４５６７８.csv", "13912345678"),
    ("fb-139.1234.5678.csv", "13912345678"),
    ("fb-640104196608150.csv", "640104196608150"),  # an old 15-digit ID number
    ("fb-640104-2026-12-13912345678.csv", "13912345678"),
]

#: digit groups that carry meaning stay readable
READABLE = [
    "feedback-640104-2026-12.csv",
    "feedback-640104-2026-12(2).csv",
    "fb-640104-2026-11-3.csv",
    "640104/fb-2026-11.csv",
    "NX-2026-11-0001",
    "fb (2).csv",
    "worklist.xlsx",
]

_SEPARATORS = re.compile(r"[\s\-._\u200b-\u200f\u2010-\u2015\u2212]")


def _flat(text: str) -> str:
    """``text`` as a reader would take the number from it: NFKC, upper case, no separators."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()


def assert_not_shown(texts: dict[str, str], digits: str) -> None:
    """No stretch of 7 of the person's digits (nor the whole) in any of ``texts``."""
    windows = {digits[i : i + 7] for i in range(len(digits) - 6)}
    for where, text in texts.items():
        flat = _flat(text)
        assert digits not in flat, f"{where}: {text!r}"
        leaked = sorted(w for w in windows if w in flat)
        assert not leaked, f"{where} shows {leaked} of the person's digits: {text!r}"


# ------------------------------------------------------------------------------------------ the mask


@pytest.mark.parametrize("name,digits", NAMED_AFTER_A_PERSON)
def test_the_persons_digits_are_masked_in_any_form(name, digits):
    shown = shown_file_name(name)
    assert_not_shown({"shown": shown, "scrubbed": scrub(name)}, digits)
    # one * per digit (or check X) masked: the name stays recognisable by its other characters
    assert len(shown) == len(name) and shown.endswith(".csv")
    for was, now in zip(name, shown):
        assert now == was or (now == "*" and unicodedata.normalize("NFKC", was) in "0123456789Xx"), (was, now)


@pytest.mark.parametrize("name", READABLE)
def test_short_groups_that_carry_meaning_stay_readable(name):
    assert shown_file_name(name) == name and scrub(name) == name and personal_spans(name) == []


@pytest.mark.parametrize(
    "text,shown",
    [
        ("640104-13912345678.csv", "640104-***********.csv"),  # the office code before it stays
        ("64010413912345678.csv", "*****************.csv"),  # digits written together: 11 or more, masked
        ("fb-139\u200b1234\u200b5678.csv", "fb-***\u200b****\u200b****.csv"),  # invisible separators
        ("fb 139 - 1234 - 5678.csv", "fb *** - **** - ****.csv"),
        ("fb-640104-2026-12-01.csv", "fb-640104-2026-12-01.csv"),  # 14 digits in groups: no ID, no mobile
        ("fb-2026-12(139 1234 5678).csv", "fb-2026-12(*** **** ****).csv"),
    ],
)
def test_masked_where_and_only_where(text, shown):
    assert shown_file_name(text) == shown


def test_a_message_and_a_column_name_lose_the_digits_too():
    msg = "No such file or directory: /inbox/640104/fb-１３９ １２３４ ５６７８.csv"
    assert scrub(msg) == "No such file or directory: /inbox/640104/fb-<masked>.csv"
    assert shown_column_names(["elected_mnth", "x13912345678", "n_139-1234-5678"]) == [
        "elected_mnth",
        "<not a column name>",
        "<not a column name>",
    ]


def test_a_copied_sheet_named_after_a_person_is_refused_without_its_digits(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "反馈"
    wb.create_sheet("反馈 139 1234 5678")
    path = tmp_path / "book.xlsx"
    wb.save(path)
    with pytest.raises(_Refuse) as exc:
        read_workbook(path)
    assert exc.value.code == "TWO_FEEDBACK_SHEETS"
    assert_not_shown({"reason": exc.value.reason, "params": str(exc.value.params)}, "13912345678")
    # named in the office's receipt (the Chinese reason), not in the English one that is logged
    assert exc.value.params["sheet"] == "反馈 *** **** ****" and "***" not in exc.value.reason


# ------------------------------------------------------------------------------------- the command


def _receipts_text(out: Path) -> dict[str, str]:
    """Every part of every receipt written under ``out``."""
    texts = {}
    for p in sorted(out.rglob("*.xlsx")):
        with zipfile.ZipFile(io.BytesIO(p.read_bytes())) as z:
            texts[f"receipt {p.name}"] = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return texts


@pytest.mark.parametrize("name,digits", NAMED_AFTER_A_PERSON)
def test_feedback_command_never_shows_the_persons_digits(tmp_path, caplog, capsys, name, digits):
    """``retire-prep -v feedback --office 640104 FILE…``: a file named after a person applied (a row
    refused, so that rows are logged), one refused whole (not UTF-8), and one named by office and
    month.  Neither stdout, stderr, the log nor any receipt shows the person's digits; the office
    code, the month and the other name stay readable."""
    from pipelines.cli import main

    wh = Wh(tmp_path)
    p = wh.person()
    good = wh.write([row(p, "ARCHIVE_REVIEWED", D0, result="PASS"), row(p, "NO_SUCH_EVENT", D0)], name=name)
    bad = tmp_path / f"bad-{name}"
    bad.write_bytes(b"\xff\xfe\x00 not UTF-8")
    plain = wh.write([row(p, "YEARS_CONFIRMED", D0, months=300)], name="feedback-640104-2026-12(2).csv")
    out = tmp_path / "out"
    caplog.set_level(logging.INFO)
    argv = ["-v", "feedback", "--office", OFFICE, "--warehouse", str(wh.path), "--out", str(out)]
    code = main(argv + [str(good), str(bad), str(plain)])
    got = capsys.readouterr()
    assert code != 0  # the file that is not UTF-8 is refused whole
    assert wh.stage(p) == "YEARS_CONFIRMED"  # the other two are applied
    log = "\n".join(r.getMessage() for r in caplog.records) + "\n" + caplog.text
    # the receipt names the refused row's person by its ID number, the office's own (by design; its
    # first digits are the office's and the name's): passed over, the file name's digits are looked for
    receipts = {k: v.replace(p.id_no, "") for k, v in _receipts_text(out).items()}
    assert any(p.id_no in t for t in _receipts_text(out).values())
    texts = {"stdout": got.out, "stderr": got.err, "log": log, **receipts}
    assert len(texts) == 6, sorted(texts)  # three receipts
    assert_not_shown(texts, digits)
    # what the run says is still there, with the name recognisable
    assert "ENCODING" in got.err and len(got.err.strip().splitlines()) == 1
    shown = shown_file_name(name)
    assert f"applied {shown} (office {OFFICE}): 2 rows, 1 accepted" in got.out
    assert f"REFUSED bad-{shown}: ENCODING" in got.out
    assert "applied feedback-640104-2026-12(2).csv (office 640104)" in got.out
    assert f"{shown} row 2 refused: UNKNOWN_EVENT" in log and "640104/feedback-640104-2026-12(2).回执.xlsx" in log
    receipts = _receipts_text(out)
    assert any(f"<t>{shown}</t>" in t for t in receipts.values())
    assert any("<t>feedback-640104-2026-12(2).csv</t>" in t for t in receipts.values())
