"""Shared test support, moved from tests/feedback/test_feedback.py (issue 15: no test module imports another)."""

from __future__ import annotations

import atexit
import csv
import io
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
import duckdb
from pipelines.feedback import COLUMNS, apply_feedback_files, ensure_schema
from pipelines.settings import load_settings
from pipelines.warehouse import connect, schema_stamp
from support.pushkit import make_id

#: The fresh warehouse a ``Wh`` starts from, built once a process for each schema stamp and copied
#: for the next ones (seventeenth session, the suite's time: the schema's DDL is ≈ 0.15 s CPU a
#: warehouse, a copy ≈ 0.03 s, and about 200 tests start from a ``Wh``). The copy is the same file the
#: same code made (the stamp is of the code and the settings); the commands under test run on it as on
#: a fresh one. Kept outside the tests' folders, removed when the process ends.
_FRESH: dict[str, Path] = {}


P = 2026 * 12 + 10  # 2026-11


D0 = date(2026, 11, 2)


def mi(y: int, m: int) -> int:
    return y * 12 + m - 1


@dataclass
class Person:
    id_no: str
    entry_id: str
    office: str
    S: int


class Wh:
    """A fresh warehouse with persons, their screening and their open ledger entry."""

    def __init__(self, tmp: Path):
        self.tmp, self.path, self.settings = tmp, tmp / "w.duckdb", load_settings()
        self.n = 0
        self.files = 0
        self._batch = None
        stamp = schema_stamp(self.settings)
        fresh = _FRESH.get(stamp)
        if fresh is not None and fresh.is_file():
            shutil.copyfile(fresh, self.path)
            return
        with self.con() as con:
            ensure_schema(con, self.settings)
            con.execute(
                "INSERT INTO push_batches (seq, batch_id, push_type, data_month, content_hash, status) "
                "VALUES (1, 'T-1', 'FULL', '2026-11', 'x', 'APPLIED')"
            )  # P's push (a month is run at most one month after it)
        if not Path(f"{self.path}.wal").exists():  # closed and checkpointed: the file is the whole warehouse
            folder = Path(tempfile.mkdtemp(prefix="wh-fresh-"))
            atexit.register(shutil.rmtree, folder, True)
            _FRESH[stamp] = folder / "w.duckdb"
            shutil.copyfile(self.path, _FRESH[stamp])

    def con(self, read_only: bool = False):
        return connect(self.path, read_only=read_only, settings=self.settings)

    @contextmanager
    def raw(self, read_only: bool = False):
        """A plain DuckDB connection (no policy macros): fast, for fixtures and checks. Inside
        :meth:`batch`, the batch's connection (a writer's: the same file, the same statements)."""
        if self._batch is not None and not read_only:
            yield self._batch
            return
        con = duckdb.connect(str(self.path), read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def batch(self):
        """Many :meth:`person` calls on one connection (eighteenth session, the suite's time: opening
        and closing the file is ≈ 25 ms CPU a person, more in the close's fsync; the inserts ≈ 5 ms). The same rows in the same
        order as one connection each; the file is closed (checkpointed) when the block ends, before
        anything else opens it. Nothing but ``person`` (and ``raw``) inside the block."""
        con = duckdb.connect(str(self.path))
        self._batch = con
        try:
            yield self
        finally:
            self._batch = None
            con.close()

    def person(
        self,
        *,
        office="640104",
        itype=110,
        employer=True,
        survival=1,
        retired=False,
        stage="NOTIFIED",
        opened=P,
        S=P + 6,
        flex="default",
        counted=300,
        screen_month=P,
        gender=1,
        birth="19661115",
    ) -> Person:
        self.n += 1
        n = self.n
        id_no = make_id(prefix=office, birth=birth, seq=n, gender=gender)
        entry_id = f"e{n:03d}-{opened // 12}-{opened % 12 + 1:02d}"
        if flex == "default":
            flex = (S - 36, S + 36) if itype == 110 else (None, None)
        with self.raw() as con:
            con.execute(
                "INSERT INTO person_versions (id_no, name, gender, birth_date, insurance_type, person_type, hukou_region, "
                "insured_region, benefit_region_ministry, employer_uscc, employer_name, phone, contribution_status, "
                "retired, survival_status, actual_contribution_months, deemed_months, deemed_status, deemed_region, "
                "arrears_months, in_push, row_hash, valid_from_seq, valid_to_seq) "
                "VALUES (?, ?, ?, DATE '1966-11-15', ?, 2, ?, ?, '640100', ?, ?, '13912345678', 1, ?, ?, ?, NULL, 0, "
                "NULL, 0, true, 'h', 1, NULL)",
                [
                    id_no,
                    f"测试{n}",
                    gender,
                    itype,
                    office,
                    office,
                    "91640100710645234G" if employer else None,
                    "宁夏测试有限公司" if employer else None,
                    retired,
                    survival,
                    counted,
                ],
            )
            con.execute(
                "INSERT INTO screen_results (month_mi, id_no, office_code, insurance_type, gender, person_type, birth_mi, "
                "original_age_mi, statutory_age_mi, delay_months, benefit_start_mi, flexible_earliest_mi, "
                "flexible_latest_mi, min_contribution_months, counted_months, projected_months, benefit_province, "
                "place_rule, place_evidence, alive, retired, in_push, scope_rule, trigger_push, trigger_application, "
                "trigger_screening, flags) VALUES (?, ?, ?, ?, ?, 2, ?, ?, ?, 0, ?, ?, ?, 180, ?, ?, '640000', 'H', NULL, "
                "true, false, true, 'a', true, false, false, '')",
                [screen_month, id_no, office, itype, gender, S - 720, S, S, S + 1, flex[0], flex[1], counted, counted],
            )
            con.execute(
                "INSERT INTO ledger_entries (entry_id, id_no, office_code, opened_mi, opened_by, officer_id, stage, "
                "stage_since, due_date) VALUES (?, ?, ?, ?, 'PUSH', NULL, ?, ?, NULL)",
                [entry_id, id_no, office, opened, stage, date(opened // 12, opened % 12 + 1, 1)],
            )
        return Person(id_no, entry_id, office, S)

    # -- feedback ---------------------------------------------------------------------

    def csv_bytes(self, rows: list[dict], bom: bool = False, header=COLUMNS) -> bytes:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(header), lineterminator="\r\n", extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({c: "" if r.get(c) is None else str(r.get(c)) for c in header})
        data = buf.getvalue().encode("utf-8")
        return (b"\xef\xbb\xbf" + data) if bom else data

    def write(self, rows: list[dict], name: str | None = None, **kw) -> Path:
        self.files += 1
        path = self.tmp / (name or f"fb{self.files:02d}.csv")
        path.write_bytes(self.csv_bytes(rows, **kw))
        return path

    def apply(self, rows: list[dict], **kw):
        return apply_feedback_files([self.write(rows, **kw)], self.path, self.settings)

    def q(self, sql: str, params=None):
        with self.raw(read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def one(self, sql: str, params=None):
        return self.q(sql, params)[0][0]

    def stage(self, p: Person) -> str:
        return self.one("SELECT stage FROM ledger_entries WHERE entry_id = ?", [p.entry_id])

    def statuses(self, file_name: str):
        return self.q("SELECT status, reason_code FROM feedback_rows WHERE file_name = ? ORDER BY row_no", [file_name])

    def last_file(self) -> str:
        return f"fb{self.files:02d}.csv"


def settled(*paths: Path) -> None:
    """Files as the feedback inbox takes them: unchanged for longer than ``feedback_settle_seconds``
    (their mtime an hour ago; pipelines.orchestration.settled)."""
    import os
    import time

    then = time.time() - 3600
    for p in paths:
        os.utime(p, (then, then))


def row(p: Person, event: str, day: date, **kw) -> dict:
    r = {"office_code": p.office, "event": event, "id_no": p.id_no, "event_date": day.isoformat()}
    r.update(kw)
    return r


PATH = (
    ("ARCHIVE_REVIEWED", {"result": "PASS"}),
    ("YEARS_CONFIRMED", {"months": 300}),
    ("RELATIONS_MERGED", {"merge_status": "MERGED"}),
    (
        "CONCLUSION_ISSUED",
        {"counted_months": 300, "merge_status": "MERGED", "archive_conclusion": "PASS", "base_data": "base 6500"},
    ),
    ("RESULT_RECEIVED", {}),
    ("CONFIRMED", {"confirmer": "EMPLOYER"}),
)


def path_rows(p: Person, until: str, d0: date = D0, **over) -> list[dict]:
    """The rows of the whole path up to and including event ``until``, one day apart."""
    out = []
    for i, (ev, kw) in enumerate(PATH):
        kw = dict(kw)
        if ev in over:
            kw.update(over[ev])
        out.append(row(p, ev, d0 + timedelta(days=i), **kw))
        if ev == until:
            return out
    raise AssertionError(until)
