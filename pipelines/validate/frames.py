"""Helpers for the stages that build the frames they hand to validation: a bounded, deterministic
sample of a large frame (GX validates pandas frames in memory), and columns computed here,
independently of the SQL they check."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..settings import Settings


def sample_clause(n_rows: int, settings: "Settings", key: str = "id_no") -> str:
    """SQL condition keeping a deterministic hash sample of about ``validation_max_rows`` rows
    (``TRUE`` when the frame is small enough to validate whole)."""
    cap = settings.validation_max_rows
    if not cap or n_rows <= cap:
        return "TRUE"
    return f"hash({key}) % {-(-n_rows // cap)} = 0"


def expected_sms_segments(texts: "pd.Series") -> "pd.Series":
    """rules.md §5 segment count of each text: 1 up to 70 characters, else ⌈length / 67⌉.

    For callers building the ``expected_segments`` column of the ``sms`` frame:
    computed here in Python, independently of the SQL that fills ``segments``.
    """
    n = texts.str.len().astype("int64")
    return ((n + 66) // 67).where(n > 70, 1)
