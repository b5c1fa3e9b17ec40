"""The standing hostile-input corpus (issue 14), generated — no binary file is kept.

Every kind of broken CSV record, alone in an otherwise good file, at the start, the middle
and the end of it, for the three CSV inputs (push persons files, county feedback files,
applications files); plus the Parquet and manifest cases of the push.  Tests build the cases
into a temporary folder (``tests/robustness/test_hostile_corpus.py``); a person may look at them with
``python tests/hostile/generate.py OUT`` (writes the CSV cases of every kind as files).

A case is a file's bytes with the physical line of every row it was built from, so a test can
check that every record is accounted for: applied, already applied, quarantined or refused
(with its row number), or the file refused whole.  Add a defect here and every input is tried
with it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

POSITIONS = ("start", "middle", "end")

# Each defect turns the cells of the broken row into the bytes of its physical line(s).  ``t`` is
# the index of a free-text cell (for applications, where no cell is free text, a code cell).
LONG = 140_000  # over the csv module's default field limit (131,072), which ended a read silently


def _line(cells) -> bytes:
    # surrogateescape: bad_utf8's lone surrogates become the raw bytes 0xFF 0xFE
    return ",".join(cells).encode("utf-8", "surrogateescape")


def _with(cells, t, value) -> list[str]:
    out = list(cells)
    out[t] = value
    return out


DEFECTS = {
    "long_cell": lambda c, t: _line(_with(c, t, "x" * LONG)),
    "unclosed_quote": lambda c, t: _line(_with(c, t, '"' + c[t])),
    # a quote opened here and closed by a stray quote two lines further: the lines between read
    # as one quoted cell (Python's csv and DuckDB alike) — the rows the issue saw disappear
    "quote_closed_later": lambda c, t: _line(_with(c, t, '"' + c[t])),
    "text_after_quote": lambda c, t: _line(_with(c, t, f'"{c[t]}"x')),
    "more_cells": lambda c, t: _line(list(c) + ["extra"]),
    "fewer_cells": lambda c, t: _line(list(c)[:-2]),
    "bad_utf8": lambda c, t: _line(_with(c, t, c[t][:1] + "\udcff\udcfe" + c[t][1:])),
    "nul": lambda c, t: _line(_with(c, t, c[t][:1] + "\x00" + c[t][1:])),
    "control": lambda c, t: _line(_with(c, t, "\x1b[31m" + c[t])),
    "bidi_override": lambda c, t: _line(_with(c, t, "\u202e" + c[t])),
    "bare_cr": lambda c, t: _line(_with(c, t, c[t][:1] + "\r" + c[t][1:])),
    "empty_line": lambda c, t: b"",
    "spaces_line": lambda c, t: b"   ",
    # a line holding only a control character that Python's str.strip() takes for whitespace
    # (FS, U+001C): a record with a control character, not a blank line
    "control_only_line": lambda c, t: b"\x1c",
}
#: defects whose broken record holds no row (a line that is not a row)
BLANK = {"empty_line"}


@dataclass
class Case:
    kind: str  # push | feedback | applications
    defect: str
    position: str
    data: bytes
    good: list[dict]  # the good rows, in file order
    good_lines: list[int]  # their physical lines (header = line 1)
    broken: dict | None  # the row the broken record was made from (None: a blank/space line)
    broken_line: int
    data_lines: int  # non-empty physical lines after the header
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.defect}-{self.position}"


def csv_cases(
    kind: str,
    columns,
    good_rows: list[dict],
    broken_rows: list[dict],
    text_col: str,
    defects=None,
    line_end: str = "\n",
) -> list[Case]:
    """One case per defect and position: ``good_rows`` (cells without commas or quotes) with the
    broken record made from the next row of ``broken_rows`` inserted at the start, the middle or
    the end.  ``good_rows`` is a list of row lists, one per case (so that every case has persons
    of its own), or one list used by every case."""
    columns = list(columns)
    t = columns.index(text_col)
    eol = line_end.encode()
    cases = []
    k = 0
    for defect in defects or DEFECTS:
        for position in POSITIONS:
            good = good_rows[k] if isinstance(good_rows[0], list) else good_rows
            broken = broken_rows[k % len(broken_rows)]
            k += 1
            cells = [[str(r.get(c, "")) for c in columns] for r in good]
            for row in cells:
                assert not any(ch in v for v in row for ch in ',"\r\n'), "good cells are plain"
            at = {"start": 0, "middle": len(good) // 2, "end": len(good)}[position]
            bad = DEFECTS[defect]([str(broken.get(c, "")) for c in columns], t)
            lines = [_line(r) for r in cells]
            if defect == "quote_closed_later" and at + 1 < len(lines):
                # the good line after the next one ends its text cell with the stray closing quote
                c = cells[at + 1]
                lines[at + 1] = _line(_with(c, t, c[t] + '"'))
            lines.insert(at, bad)
            data = _line(columns) + eol + eol.join(lines) + eol
            good_lines = [2 + i + (1 if i >= at else 0) for i in range(len(good))]
            data_lines = sum(1 for ln in lines if ln != b"")
            cases.append(
                Case(
                    kind,
                    defect,
                    position,
                    data,
                    good,
                    good_lines,
                    None if defect in BLANK | {"spaces_line"} else broken,
                    2 + at,
                    data_lines,
                )
            )
    return cases


# --------------------------------------------------------------------------- the three inputs


def push_cases(first_n: int = 0, good_per_case: int = 30) -> list[Case]:
    """persons.csv files of a FULL (segments empty): 30 good persons of their own each (one bad
    row in 31 stays under the 5 % that refuses a batch whole)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from pipelines.contract import PERSON_COLUMNS
    from support.pushkit import person

    from datetime import date, timedelta

    def p(c, i):  # persons of their own per case: another birth day per case (ID numbers unique)
        return person(i + 1, birth_date=(date(1966, 1, 1) + timedelta(days=first_n + c)).strftime("%Y%m%d"))

    goods = [[p(c, i) for i in range(good_per_case)] for c in range(n_cases())]
    brokens = [p(c, good_per_case) for c in range(n_cases())]
    return csv_cases("push", PERSON_COLUMNS, goods, brokens, "name")


def feedback_rows(id_nos: list[str], office: str = "640104", day: str = "2026-11-02") -> list[dict]:
    """ARCHIVE_REVIEWED PASS rows (one per person) with a note: each applies to a NOTIFIED entry."""
    return [
        {
            "office_code": office,
            "event": "ARCHIVE_REVIEWED",
            "id_no": i,
            "event_date": day,
            "result": "PASS",
            "note": "hostile corpus",
        }
        for i in id_nos
    ]


FEEDBACK_COLUMNS = ("office_code", "event", "id_no", "event_date", "result", "note")


def feedback_cases(groups: list[list[str]]) -> list[Case]:
    """Feedback files: ``groups`` = the ID numbers of each case (5: 4 good rows and the broken one)."""
    goods = [feedback_rows(g[:-1]) for g in groups]
    brokens = [feedback_rows(g[-1:])[0] for g in groups]
    return csv_cases("feedback", FEEDBACK_COLUMNS, goods, brokens, "note", line_end="\r\n")


APPLICATION_COLUMNS = ("id_no", "applicant_type", "applied_on", "channel", "county_code")


def application_cases(id_nos: list[str], good_per_case: int = 4) -> list[Case]:
    """Applications files: ``id_nos`` gives every case its own persons (good_per_case + 1 each)."""
    n = good_per_case + 1
    groups = [id_nos[i : i + n] for i in range(0, len(id_nos), n)]
    row = lambda i: {
        "id_no": i,
        "applicant_type": "2",
        "applied_on": "20261105",
        "channel": "online",  # noqa: E731
        "county_code": "640104",
    }
    goods = [[row(i) for i in g[:-1]] for g in groups]
    brokens = [row(g[-1]) for g in groups]
    return csv_cases("applications", APPLICATION_COLUMNS, goods, brokens, "channel")


def n_cases() -> int:
    return len(DEFECTS) * len(POSITIONS)


# --------------------------------------------------------------------------- Parquet and manifest


def parquet_binary_text(
    folder: Path,
    persons: list[dict],
    *,
    invalid_row: int | None = None,
    list_column: bool = False,
    seq: int = 1,
    month: str = "2026-11",
) -> Path:
    """A batch whose persons.parquet holds every text column as BINARY (bytes, as many writers
    store strings); ``invalid_row`` gets a name that is not UTF-8; ``list_column`` stores the
    name as a LIST of strings instead."""
    import hashlib
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.contract import PERSON_COLUMNS, SEGMENT_COLUMNS

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cols = {}
    for c in PERSON_COLUMNS:
        values = [r.get(c, "").encode("utf-8") for r in persons]
        if c == "name" and invalid_row is not None:
            values[invalid_row] = b"\xe4\xba" + b"\xff"
        cols[c] = pa.array(values, pa.binary())
    if list_column:
        cols["name"] = pa.array([[r["name"], r["name"]] for r in persons], pa.list_(pa.string()))
    pq.write_table(pa.table(cols), folder / "persons.parquet")
    pq.write_table(pa.table({c: pa.array([], pa.binary()) for c in SEGMENT_COLUMNS}), folder / "segments.parquet")
    files = {
        name: {"rows": rows, "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest()}
        for name, rows in (("persons.parquet", len(persons)), ("segments.parquet", 0))
    }
    manifest = {
        "batch_id": f"NX-{month}-{seq:04d}",
        "province": "640000",
        "push_type": "FULL",
        "data_month": month,
        "seq": seq,
        "base_seq": None,
        "generated_at": f"{month}-05T02:00:00+08:00",
        "schema_version": "1.0",
        "encoding": "UTF-8",
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


#: manifest values that must refuse a batch whole (issue 14 item 10)
BAD_MANIFEST_MONTHS = ("0001-01", "9999-12", "1899-12", "2100-01")


def main(out: str) -> None:
    """Write the CSV cases (with made-up ID numbers) as files under ``out`` for a look."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from support.pushkit import make_id

    ids = [make_id(seq=i) for i in range(1, 5 * n_cases() + 1)]
    groups = [ids[i : i + 5] for i in range(0, len(ids), 5)]
    for case in push_cases() + feedback_cases(groups) + application_cases(ids):
        (root / f"{case.name}.csv").write_bytes(case.data)
    print(f"{len(list(root.glob('*.csv')))} files in {root}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")
