"""The office's workbook ``worklists/<office>/worklist.xlsx`` (issue 16): a file to work in and send back.

Parquet and CSV stay the contract for systems; the workbook is for the county officer, in
Excel, WPS or LibreOffice:

* **工作台账** — the worklist's rows and columns in the CSV's order and Chinese headers
  (``data/dictionary.csv``).  Every text value — ID number, office and region codes, months,
  dates, officer ids — is a *text* cell (never a number a spreadsheet could round: an 18-digit
  ID number as a number loses its last digits); counts of months are numbers.  Codes are shown
  with their Chinese label (``data/labels.csv``), the flag evidence in Chinese.  Header frozen,
  autofilter, widths that fit, overdue rows marked, landscape A4 with the header (and the ID
  number and name) on every printed page.  An office beyond a sheet's row limit continues on
  ``工作台账(2)`` ….
* **反馈** — one row per open entry, prefilled (office, ID number as text, name, stage, due
  date), then the columns of docs/feedback-format.md with Chinese headers and drop-down lists
  of the Chinese labels; ``retire-prep feedback`` reads it back (``pipelines.feedback.xlsx``).
* **填报说明** — what each event needs, what each column takes, and the lists the drop-downs use.

How it is written (issue 16 item 7: XlsxWriter cell by cell, ≈ 6.7 µs of Python a cell, added
+416 % to the monthly run): XlsxWriter writes each workbook *without* the data rows of 工作台账 and
反馈 — headers, widths, styles, frozen panes, filters, print setup, drop-downs, 填报说明 and
properties, a few kB in memory — and ONE DuckDB query makes the XML of every data row of every
office (labels and the Chinese evidence included, set-based), exactly the XML XlsxWriter's
``constant_memory`` mode writes for those cells (inline strings; tests/outputs/test_xlsx_setbased.py
compares every part with the cell-by-cell writer, tests/support/xlsx_reference.py).  Its Arrow batches
are written into the templates' sheets as they come, deflated (ISA-L's level 1, ``xlsx_book.ZIP_LEVEL``) while DuckDB
makes the next batch: no Python per row, memory bounded by a few batches.  Each file is written to
a temporary name and renamed; its properties and its zip entries carry fixed dates, so a rerun
writes the same bytes.  Where: the rows' SQL in ``xlsx_rows``, the sheets' set-up in ``xlsx_sheets``,
one file's template and zip in ``xlsx_book``; here the query, the stream and DuckDB's bound.
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import duckdb

from . import labels
from .steps import sql_list, sql_str
from .xlsx_book import _K_OFFICE, _K_SHEET, _Book, _template
from .xlsx_rows import _EVIDENCE, _LONG, _NUMBERS, _case, _rows_select, _shown
from .xlsx_sheets import FEEDBACK_SHEET, HELP_SHEET, WORKLIST_SHEET  # noqa: F401 -- the sheets' names, for the tests
from .xlsx_sheets import display_len_sql

log = logging.getLogger(__name__)

#: Excel's (and WPS's, LibreOffice's) last row is 1,048,576: one header row + this many data rows
EXCEL_MAX_ROWS = 1_048_575
#: rows of each Arrow batch fetched from DuckDB: a row of 工作台账 is ≈ 2.5 kB of XML and up to four
#: batches are alive (two queued, one written, one being made): 20,000 rows held ≈ 110 MiB more at the
#: office_files task's peak than 5,000, 5,000 ≈ 7 MiB more than 2,000, for no measurable time
#: (docs/benchmarks.md "Offices' workbooks", "The office_files task's memory, ninth session")
BATCH_ROWS = 2_000
#: DuckDB's memory_limit while the workbooks are written (when the connection's is higher): the
#: writer's query alone at 81,369 rows (1 M persons' largest office): 1 GB 362 MiB, 256 MB 350,
#: 128 MB 306, 100 MB 287, 64 MB fails (what cannot spill: blocks being scanned, the sort's runs
#: being merged, the evidence join's table) — then the workbooks are written again under the
#: connection's own limit (a warning); docs/benchmarks.md "The office_files task's memory, ninth session"
WRITER_MEMORY_LIMIT = "96MB"
#: … or, when more, this many bytes a worklist row plus EVIDENCE_FACTOR × the bytes of the distinct
#: evidence texts (their table and the join's hash table do not spill, and the sort's merge needs
#: more with more rows): every office of 1 M at once (700,383 rows, 180,283 texts of 53 MiB) failed
#: in 160 MB and 184 MB, fit in 202 MB and 260 MB; so 277 MB (the CLI's run, whose peak is elsewhere)
#: while an office of 1 M (81,369 rows, 7 MiB of texts: 35 MB) keeps the 96 MB
WRITER_ROW_BYTES = 256
EVIDENCE_FACTOR = 2


def write_workbook(
    con,
    month_mi: int,
    office: str,
    path: Path,
    *,
    columns: list[str],
    created: datetime | None = None,
    max_rows: int = EXCEL_MAX_ROWS,
    closed_stages: tuple = (),
) -> int:
    """Write ``path`` (``worklist.xlsx``) for ``office`` from ``worklist_rows`` of ``month_mi``;
    returns the worklist rows written.  ``columns``: the worklist's columns in the CSV's order."""
    return write_workbooks(
        con, month_mi, {office: path}, columns=columns, created=created, max_rows=max_rows, closed_stages=closed_stages
    )[office]


def write_workbooks(
    con,
    month_mi: int,
    paths: dict[str, Path],
    *,
    columns: list[str],
    created: datetime | None = None,
    max_rows: int = EXCEL_MAX_ROWS,
    closed_stages: tuple = (),
    memory_limit: str | None = None,
) -> dict[str, int]:
    """Write the workbook of each office of ``paths`` (office → its ``worklist.xlsx``); returns the
    worklist rows written for each.  Each file is written to a temporary name and renamed.

    Set-based (issue 16 item 7: XlsxWriter's cell-by-cell Python cost +416 % of the monthly run):
    XlsxWriter writes each office's workbook without the data rows of 工作台账 and 反馈 (headers,
    widths, styles, frozen panes, filters, print setup, drop-downs, 填报说明, properties: its
    *template*, in memory); ONE DuckDB query makes the XML of every data row of every office's
    sheets (what XlsxWriter's ``constant_memory`` mode writes for those cells), in the order of the
    files; its Arrow batches are written into the templates' sheets as they come, compressed while
    DuckDB makes the next batch.  No Python per row: per batch, per run of rows of one sheet.

    ``memory_limit``: the connection's DuckDB memory_limit as it was set (settings
    ``duckdb_memory_limit``), put back exactly after the writer's own (:func:`_bounded`); without
    it, one that DuckDB shows as it showed the limit before (:func:`_restorable`)."""
    for office in paths:
        if not re.fullmatch(r"[0-9]{6}", office):  # inlined in the queries below
            raise ValueError(f"not an office code: {office!r}")
    offices = sorted(paths)
    if not offices:
        return {}
    codes = sql_list(offices)
    where = f"month_mi = {int(month_mi)} AND office_code IN ({codes})"
    tmps = {o: paths[o].with_name(paths[o].name + ".tmp") for o in offices}
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)

    def work(bound: bool, own: Own, used: list) -> dict[str, int]:
        try:
            # the flag evidence in Chinese, translated once per distinct text (38 rules: the costliest
            # column; a rule skipped where its text cannot match), on the connection's threads: a table
            # of distinct texts, no rows held (docs/benchmarks.md, nineteenth session)
            con.execute(f"SET threads = {int(own.threads)}")
            distinct = (
                f"SELECT DISTINCT flag_evidence AS en FROM worklist_rows WHERE {where} AND flag_evidence IS NOT NULL"
            )
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_EVIDENCE} AS {labels.evidence_zh_query(distinct)}")
            if bound:  # more for many rows and many evidence texts (what does not spill grows with them)
                rows, texts = con.execute(
                    f"SELECT (SELECT count(*) FROM worklist_rows WHERE {where}), "
                    f"(SELECT coalesce(sum(strlen(en) + strlen(zh)), 0) FROM {_EVIDENCE})"
                ).fetchall()[0]
                used[0] = _limit(con, own, rows * WRITER_ROW_BYTES + texts * EVIDENCE_FACTOR)
            return _write_all(con, offices, tmps, where, columns, created, max_rows, closed_stages)
        finally:
            con.execute(f"DROP TABLE IF EXISTS {_EVIDENCE}")

    written = write_bounded(con, memory_limit, tmps, work)
    for o in offices:
        os.replace(tmps[o], paths[o])
    return written


class Own(NamedTuple):
    """The connection's own DuckDB settings, as they were before the writer's (:func:`_bounded`)."""

    limit: str  # memory_limit
    threads: int


def write_bounded(con, memory_limit: str | None, tmps: dict, work) -> dict[str, int]:
    """Run ``work(bound, own, used)`` — which writes the files ``tmps`` (office → temporary path),
    puts the memory limit it sets in ``used[0]`` and returns the rows written per office — under the writer's DuckDB settings
    (:func:`_bounded`); when the bound is too small for the rows (DuckDB out of memory), once more
    under the connection's own limit, with a warning.  The temporary files are removed on failure.
    Every office workbook (the worklists', the declarations', the offline notices') goes through it."""

    def attempt(bound: bool) -> dict[str, int]:
        try:
            with _bounded(con, bound, memory_limit) as own:
                return work(bound, own, used)
        except BaseException:
            for t in tmps.values():
                t.unlink(missing_ok=True)
            raise

    used = [WRITER_MEMORY_LIMIT]  # the writer's limit, for the warning below
    try:
        return attempt(True)
    except (duckdb.OutOfMemoryException, OSError) as exc:  # (OSError: DuckDB's, through an Arrow reader)
        if not str(exc).startswith("Out of Memory Error"):
            raise
        # the bound too small for these rows: written as before it
        log.warning(
            "the workbooks did not fit DuckDB's memory_limit %s while written (%s): written again "
            "under the connection's own limit",
            used[0],
            str(exc).splitlines()[0],
        )
        return attempt(False)


_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "BYTES": 1}


def _bytes(text: str) -> float:
    """``'953.6 MiB'`` (DuckDB's ``current_setting('memory_limit')``) → bytes."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text)
    return float(m.group(1)) * _UNITS[(m.group(2) or "B").upper()] if m else float("inf")


def _restorable(shown: str) -> str:
    """``'953.6 MiB'`` → ``'999973683B'``: within the tenth of a MiB DuckDB cut the limit to when it
    showed it, which DuckDB shows again as ``953.6 MiB`` (the shown value itself would show 953.5)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", shown)
    if not m:
        return shown
    unit = _UNITS.get((m.group(2) or "B").upper(), 1)
    return f"{int((float(m.group(1)) + 0.05) * unit)}B" if unit > 1 else shown


def _limit(con, own: Own, need: float) -> str:
    """DuckDB's memory_limit to WRITER_MEMORY_LIMIT or ``need`` bytes if more, when below ``own.limit``
    (the connection's own); else to ``own.limit`` itself: a bound the rows need more than the connection
    has is no bound (before, it was left at WRITER_MEMORY_LIMIT, which then always ran out of memory
    and wrote everything a second time: 40 CPU s of a 5,000,000-person run, docs/benchmarks.md).

    Threads: one under WRITER_MEMORY_LIMIT (an office group of the DAG: each thread pins its own
    blocks, and the groups' tasks run side by side), the connection's own when the rows were given
    more (every office at once, the CLI's run: at 5 M persons the workbooks took 46.8 s on two
    threads against 54.4 on one, the same peak; docs/benchmarks.md, nineteenth session).
    Returns the limit set, as said in the warning of :func:`write_workbooks`."""
    want = max(_bytes(WRITER_MEMORY_LIMIT), need)
    raised = want > _bytes(WRITER_MEMORY_LIMIT)
    con.execute(f"SET threads = {int(own.threads) if raised else 1}")
    if want >= _bytes(own.limit):
        con.execute("SET memory_limit = ?", [own.limit])
        return own.limit
    con.execute("SET memory_limit = ?", [f"{int(want)}B"])
    return f"{want / 2**20:.0f} MiB" if raised else WRITER_MEMORY_LIMIT


@contextmanager
def _bounded(con, bound: bool = True, memory_limit: str | None = None):
    """DuckDB's settings while the workbooks are written (issue 16 item 7, the office_files task's
    peak; docs/benchmarks.md "The office_files task's memory, ninth session"), put back after:

    * ``memory_limit`` at most WRITER_MEMORY_LIMIT (or more for many rows, :func:`_limit`): the
      rows' sort spills past it (to the warehouse's temp_directory) and the table's cached blocks
      are evicted, instead of growing with the largest office;
    * one thread under that bound (each pins its own blocks: at 96 MB, 1 of 8 runs of 640104 ran out
      of memory with two threads and fell back, 0 of 8 with one; the same peak), the connection's own
      when the rows were given more (:func:`_limit`);
    * the optimizer ``build_side_probe_side`` off: it builds the evidence join's hash table on
      the office's wide rows (whose filtered count DuckDB underestimates) rather than on the
      distinct evidence texts, as written (the rows probe it, streamed)."""
    limit, disabled, threads = con.execute(
        "SELECT current_setting('memory_limit'), current_setting('disabled_optimizers'), current_setting('threads')"
    ).fetchall()[0]
    # DuckDB shows its limit cut to 0.1 of a unit: set back as the middle of that tenth, it shows the same
    limit = memory_limit or _restorable(limit)
    names = [n.strip() for n in disabled.split(",") if n.strip()]
    own = Own(limit, int(threads))
    try:
        if bound:
            _limit(con, own, 0)
        import pyarrow as pa

        pa.default_memory_pool().release_unused()  # what the files written before left cached
        if "build_side_probe_side" not in names:
            con.execute(f"SET disabled_optimizers = '{','.join([*names, 'build_side_probe_side'])}'")
        yield own
    finally:
        con.execute("SET memory_limit = ?", [limit])
        con.execute(f"SET disabled_optimizers = '{disabled}'")
        con.execute(f"SET threads = {int(threads)}")


def _write_all(con, offices, tmps, where, columns, created, max_rows, closed_stages) -> dict[str, int]:
    # One piece (issue 15): the offices' statistics, the sheets' layout and the one query of every
    # office's rows are parts of one statement built for this call (its columns, kinds and widths
    # follow the settings' worklist columns, so it cannot be a fixed file of sql/): split, the same
    # seven lists would be passed between the parts. The values are quoted by pipelines.steps' filters.
    source = f"worklist_rows LEFT JOIN {_EVIDENCE} ev ON ev.en = worklist_rows.flag_evidence"
    closed = sql_list(closed_stages) or "''"
    shown = [_shown(c) for c in columns]
    kinds = ["number" if c in _NUMBERS else "long" if c in _LONG else "text" for c in columns]
    # per office: its rows, its open entries (反馈), the widths of the values as shown (a CJK
    # character counts two) — one aggregate query
    stats = {
        r[0]: r[1:]
        for r in con.execute(
            f"SELECT office_code, count(*), count(*) FILTER (WHERE stage NOT IN ({closed})), "
            + ", ".join(f"max({display_len_sql(f'v{i}')})" for i in range(len(columns)))
            + " FROM (SELECT office_code, stage, "
            + ", ".join(f"CAST({s} AS VARCHAR) AS v{i}" for i, s in enumerate(shown))
            + f" FROM {source} WHERE {where}) GROUP BY office_code"
        ).fetchall()
    }
    books = {}
    for o in offices:
        n, m, *lens = stats.get(o, (0, 0) + (None,) * len(columns))
        books[o] = _template(o, columns, kinds, lens, n, m, created, max_rows)
        books[o].counts = (n, m)
    for o in offices:
        books[o].tmp = tmps[o]
    xf = books[offices[0]].xf
    assert all(b.xf == xf for b in books.values())  # the same formats, made in the same order

    # the long columns' widths per office (wrapped text: the row's height follows its lines)
    longs = [c for c, k in enumerate(kinds) if k == "long"]
    per_office = ", ".join(
        f"({i}, {sql_str(o)}{''.join(f', {max(1, int(books[o].widths[c]) - 4)}' for c in longs)})"
        for i, o in enumerate(offices)
    )
    lines = (
        "greatest(1, "
        + ", ".join(f"coalesce(({display_len_sql(f'c{c}')} + w.d{j} - 1) // w.d{j}, 0)" for j, c in enumerate(longs))
        + ")"
        if longs
        else "1"
    )
    fb_select = ["office_code", "id_no", "name", _case("stage", "stage"), "CAST(due_date AS VARCHAR)"]
    # the raw columns the shown values are made of: sorted, then shown (labels, Chinese evidence,
    # the text of every value) after the sort, which so moves codes and numbers, not their texts
    fb_raw = ["office_code", "id_no", "name", "stage", "due_date"]
    raw = list(dict.fromkeys([c for c in columns if c != "flag_evidence"] + fb_raw))
    shown_after = ["ev_zh" if c == "flag_evidence" else s for c, s in zip(columns, shown)]
    overdue_after = f"({shown_after[columns.index('overdue')]}) = '是'" if "overdue" in columns else "false"
    d_cols = "".join(f", d{j}" for j in range(len(longs)))
    # No window over the rows and no join of the rows to their numbers (issue 16 item 7, the
    # office_files task's peak: either holds the office's wide rows whole): ONE sort of the raw rows
    # of both sheets by (office, sheet, the worklist's order), as the CSV's own query sorts them,
    # numbered as they come out of it (row_number() OVER (): DuckDB's streaming window, which holds
    # nothing), each sheet's rows from the row that starts it (its offset from the counts above);
    # each row shown and made XML after the sort.  _stream checks that the rows come sorted and
    # numbered one by one.
    starts, g0 = [], 0
    for i, o in enumerate(offices):
        n, m = books[o].counts
        starts += [f"WHEN {i * _K_OFFICE} THEN {g0}", f"WHEN {i * _K_OFFICE + _K_SHEET} THEN {g0 + n}"]
        g0 += n + m
    start = f"(CASE k {' '.join(starts)} END)"
    query = f"""
        WITH w AS (SELECT * FROM (VALUES {per_office}) w(oi, office{d_cols})),
        ordered AS (
            SELECT w.oi * {_K_OFFICE} AS k, statutory_age_month AS s_, worklist_rows.entry_id AS e_,
                   {", ".join(f"worklist_rows.{c} AS {c}" for c in raw)}, ev.zh AS ev_zh{"".join(f", w.d{j} AS d{j}" for j in range(len(longs)))}
            FROM {source} JOIN w ON w.office = worklist_rows.office_code
            WHERE {where}
            UNION ALL
            SELECT w.oi * {_K_OFFICE} + {_K_SHEET}, statutory_age_month, worklist_rows.entry_id,
                   {", ".join(f"worklist_rows.{c}" if c in fb_raw else "NULL" for c in raw)}, NULL{", NULL" * len(longs)}
            FROM worklist_rows JOIN w ON w.office = worklist_rows.office_code
            WHERE {where} AND stage NOT IN ({closed})
            -- the worklist's order (the CSV's: statutory_age_month, entry_id; NULLs last)
            ORDER BY k, s_ NULLS LAST, e_
        ),
        numbered AS (
            SELECT *, row_number() OVER () AS g FROM ordered
        ),
        shown AS (
            SELECT k + (g - {start} - 1) // {max_rows} AS k, g - {start} AS rn, g, s_, e_,
                   CAST((g - {start} - 1) % {max_rows} + 2 AS VARCHAR) AS rs, coalesce({overdue_after}, false) AS od,
                   {", ".join(f"{x} AS c{i}" for i, x in enumerate(shown_after))},
                   {", ".join(f"{x} AS f{i}" for i, x in enumerate(fb_select))}{d_cols}
            FROM numbered
        ),
        made AS (
            SELECT *, {lines.replace("w.d", "d")} AS lines FROM shown
        )
        SELECT CASE WHEN k % {_K_OFFICE} < {_K_SHEET}
                    THEN {_rows_select("c", kinds, xf, heights=True)}
                    ELSE {_rows_select("f", ["text"] * len(fb_select), xf, heights=False)} END AS x, k, rn, g, s_, e_
        FROM made"""
    return _stream(con, query, offices, books)


def _stream(con, query: str, offices: list[str], books: dict[str, _Book]) -> dict[str, int]:
    """Write every office's workbook from the rows of ``query`` (``x``: a row's XML, ``k``: its
    sheet, ``rn``: its row there, ``g``: its place in the query's rows, ``s_, e_``: its sort keys,
    in the order of the files).  A thread fetches the Arrow batches (DuckDB works without the GIL)
    while this one writes and compresses them (zlib works without the GIL)."""
    import queue
    import threading

    import numpy as np

    batches: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():  # (the writer may have stopped: never wait for it forever)
            try:
                batches.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def fetch():
        try:
            for batch in con.sql(query).to_arrow_reader(BATCH_ROWS):
                if not put(batch):
                    return
        except BaseException as exc:  # handed to the writer
            put(exc)
            return
        put(None)

    t = threading.Thread(target=fetch, name="xlsx-rows", daemon=True)
    t.start()
    written: dict[str, int] = {}
    current: list = []  # [index, book] of the office being written

    def reach(oi: int) -> None:
        """Finish the files of the offices before office ``oi`` (those without rows too); begin its."""
        while not current or current[0] < oi:
            if current:
                written[offices[current[0]]] = current[1].finish()
            i = current[0] + 1 if current else 0
            current[:] = [i, books[offices[i]]]
            current[1].open()

    last = None  # the last row written: (k, s_, e_, g)
    try:
        while (batch := batches.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            if not batch.num_rows:
                continue
            last = _check_order(batch, last)
            x, keys = batch.column("x"), batch.column("k").to_numpy()
            cuts = [0, *(np.flatnonzero(keys[1:] != keys[:-1]) + 1).tolist(), len(keys)]
            for a, b in zip(cuts, cuts[1:]):  # runs of rows of one sheet
                k = int(keys[a])
                reach(k // _K_OFFICE)
                book = current[1]
                key = (k % _K_OFFICE // _K_SHEET, k % _K_SHEET)
                if book.fh is None or book.key != key:
                    book.sheet(key)
                book.write(_text_buffer(x.slice(a, b - a)), b - a)
            del batch, x, keys  # (no batch kept alive while the next one comes)
        reach(len(offices) - 1)
        written[offices[-1]] = current[1].finish()
    finally:
        stop.set()
        t.join()
        for book in books.values():
            book.close()
    return written


def _check_order(batch, last):
    """The rows come in the order of the files and numbered one by one — checked, not assumed (a row
    out of place would carry another's number): ``g`` goes 1, 2, 3 … and the rows are sorted by
    their sheet ``k``, then ``s_`` (NULLs last), then ``e_`` (unique in a sheet); vectorised over
    the batch, its first row against ``last`` (the previous batch's, returned for the next)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    g = batch.column("g").to_numpy()
    if g[0] != (last[3] + 1 if last else 1) or not np.all(np.diff(g) == 1):
        raise RuntimeError("the workbook rows were not numbered in the order they came")
    k, s, e = (batch.column(c) for c in ("k", "s_", "e_"))
    # the sheet without its part: parts follow each other within a sheet, the sort keys go on
    k = pc.subtract(k, pc.cast(np.asarray(k) % _K_SHEET, k.type))
    if last is not None:
        k, s, e = (pa.concat_arrays([pa.array([v], a.type), a]) for v, a in zip(last[:3], (k, s, e)))
    n = len(k)
    k0, k1, s0, s1, e0, e1 = k[: n - 1], k[1:], s[: n - 1], s[1:], e[: n - 1], e[1:]
    same_s = pc.or_(pc.and_(pc.is_null(s0), pc.is_null(s1)), pc.fill_null(pc.equal(s0, s1), False))
    s_before = pc.or_(pc.fill_null(pc.less(s0, s1), False), pc.and_(pc.is_valid(s0), pc.is_null(s1)))
    after = pc.or_(
        pc.greater(k1, k0),
        pc.and_(pc.equal(k0, k1), pc.or_(s_before, pc.and_(same_s, pc.fill_null(pc.less(e0, e1), False)))),
    )
    if n > 1 and not pc.all(after).as_py():
        raise RuntimeError("the workbook rows did not come in the order of the files")
    return (k[n - 1].as_py(), s[n - 1].as_py(), e[n - 1].as_py(), int(g[-1]))


def _text_buffer(arr) -> memoryview:
    """The bytes of every value of a string array, one after the other (its data buffer)."""
    if arr.null_count:
        raise ValueError("a sheet row's XML is NULL")
    if hasattr(arr, "combine_chunks"):
        arr = arr.combine_chunks()
    large = str(arr.type) in ("large_string", "large_utf8")
    _, offsets, data = arr.buffers()[:3]
    offs = memoryview(offsets).cast("q" if large else "i")
    start, end = offs[arr.offset], offs[arr.offset + len(arr)]
    return memoryview(data)[start:end] if data is not None else memoryview(b"")
