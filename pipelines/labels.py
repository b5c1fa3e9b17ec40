"""Chinese labels of codes (stages, flags, notice kinds, channels …) for what people read.

One place: the report and the analysts' file ask :func:`code_label`; the table is
``data/code_labels.csv`` (kind, code, label_zh).  Column names come from the data
dictionary (:func:`pipelines.tabular.dictionary`).
"""

from __future__ import annotations

import csv
from functools import lru_cache

from . import DATA_DIR

CODE_LABELS = DATA_DIR / "code_labels.csv"


@lru_cache(maxsize=1)
def code_labels() -> dict[tuple[str, str], str]:
    """(kind, code) → Chinese label."""
    with open(CODE_LABELS, encoding="utf-8", newline="") as fh:
        return {(r["kind"], r["code"]): r["label_zh"] for r in csv.DictReader(fh)}


def code_label(kind: str, code) -> str:
    """The Chinese label of ``code`` (the code itself when the table has none)."""
    if code is None:
        return ""
    return code_labels().get((kind, str(code)), str(code))


def label_rows() -> list[tuple[str, str, str]]:
    """Every (kind, code, label) — the analysts' file's ``code_labels`` table."""
    return [(k, c, v) for (k, c), v in code_labels().items()]


ANALYSTS_DICTIONARY = DATA_DIR / "analysts_dictionary.csv"


@lru_cache(maxsize=1)
def column_entries() -> dict[tuple[str, str], tuple[str, str]]:
    """(table or '', column) → (Chinese name, meaning): data/dictionary.csv (the files' headers),
    then data/analysts_dictionary.csv (the analysts' file and the report; a line naming its
    table wins over a general one)."""
    rows: dict[tuple[str, str], tuple[str, str]] = {}
    with open(DATA_DIR / "dictionary.csv", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            rows[("", r["column"])] = (r["header_zh"], r["meaning"])
    with open(ANALYSTS_DICTIONARY, encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            rows[(r["table"], r["column"])] = (r["name_zh"], r["meaning"])
    return rows


def column_label(column: str, table: str = "") -> str:
    """A column's Chinese name (the column itself when no dictionary names it)."""
    e = column_entries()
    return (e.get((table, column)) or e.get(("", column)) or (column, ""))[0]
