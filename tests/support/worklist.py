"""A hand-made row of ``worklist_rows`` for the workbook tests (test_worklist_xlsx, test_xlsx_setbased)."""

from __future__ import annotations

P_MI = 2026 * 12 + 10  # 2026-11


def worklist_row(i: int, **kw) -> dict:
    """Person ``i`` of office 640104 at NOTIFIED in month P, with ``kw`` over the defaults."""
    return {
        "month_mi": P_MI,
        "entry_id": f"e{i:04d}",
        "id_no": f"64010419661115{i:03d}X"[:18],
        "name": f"人{i}",
        "office_code": "640104",
        "gender": 1,
        "insurance_type": 110,
        "statutory_age_month": "2027-01",
        "stage": "NOTIFIED",
        "due_date": "2026-11-21",
        "overdue": False,
        "flags": "",
        "flag_evidence": "",
        **kw,
    }
