"""The month's report (pipelines/report.py): its tables of the push's batches — applied up to P's
push state, held at P's run (from their history, batch_holds: a replay lists what was published),
refused in P's window (each with a Chinese 说明 built by sql/report/60_refused_batches.sql from the
refusal's record, never the ingest's English message), and the quarantined rows by reason."""

from __future__ import annotations

from markupsafe import Markup


def refusal_note(note: str | None, first_row_reason: str | None) -> Markup | str:
    """A refused batch's 说明 (sql/report/60_refused_batches.sql, Chinese), with the first bad row's
    reason as its label and code when the batch was refused for its share of bad rows; "—" for a
    reason the SQL does not know (the English one is in the log, never shown to the leaders)."""
    from .report import coded

    if not note:
        return "—"
    if first_row_reason:
        return Markup('<span class="prose">{}（{}）</span>').format(
            note, Markup(coded("row_reason", first_row_reason).__html__())
        )
    return Markup('<span class="prose">{}</span>').format(note)


def waiting(first: int, last: int | None) -> str:
    """The seqs a held batch waited for, as the report shows them: "3", "3—5"."""
    if last is None or last <= first:
        return str(first)
    return f"{first}—{last}"


def batch_tables(con, s: int, lo, hi) -> list[tuple[str, list[str], list[list], str]]:
    """(title, column names, rows, note) of the four batch tables, in page order: ``s`` P's push
    state, ``lo``/``hi`` P's window (report._window)."""
    from .report import _cols, _rows, coded

    tables = []
    tables.append(
        (
            "推送批次（行数核对）",
            _cols(
                "seq",
                "batch_id",
                "push_type",
                "data_month",
                "status",
                "persons_rows",
                "persons_accepted",
                "persons_quarantined",
                "segments_rows",
                "segments_accepted",
                "segments_quarantined",
                "rows_balanced",
                "warnings",
            ),
            [
                [
                    r[0],
                    r[1],
                    coded("push_type", r[2]),
                    r[3],
                    coded("batch_status", r[4]),
                    *r[5:11],
                    "是" if r[11] else "否",
                    r[12],
                ]
                for r in _rows(con, "55_batches", [s])
            ],
            "",
        )
    )
    tables.append(
        (
            "暂存待补批次（本月运行时）",
            _cols("seq", "batch_id", "push_type", "data_month", "received_at") + ["等待的批次序号"],
            [
                [q, b, coded("push_type", t), d, r, waiting(lo_seq, hi_seq)]
                for q, b, t, d, r, lo_seq, hi_seq in _rows(con, "25_held_batches", [hi, hi, hi])
            ],
            "本月运行时序号不连续、等待前序批次的增量批次：前序批次到达后按序号入库。"
            "表中为本月运行时的情况，此后入库或拒收的，见下月报告的推送批次表和拒收批次表。",
        )
    )
    tables.append(
        (
            "拒收批次（上月运行后至本月运行）",
            _cols("batch_id", "seq") + ["拒收原因", "说明"],
            [
                [b, q, coded("batch_refusal", c), refusal_note(n, first)]
                for b, q, c, n, first in _rows(con, "60_refused_batches", [lo, lo, hi, hi])
            ],
            "整批拒收的批次未入库任何数据，须由部里重新推送或由信息科处理。说明为“—”的，详情见信息科的入库日志。",
        )
    )
    tables.append(
        (
            "隔离行：按原因",
            _cols("batch_id", "file") + ["隔离原因"] + _cols("rows"),
            [[b, coded("push_file", f), coded("row_reason", c), n] for b, f, c, n in _rows(con, "65_quarantine", [s])],
            "",
        )
    )
    return tables
