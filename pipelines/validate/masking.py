"""Personal data in validation results: never a raw value of :data:`PERSONAL_COLUMNS`.

Unexpected examples of those columns are replaced by a keyed hash (for ``id_no`` the
warehouse's ``person_key`` when a key is configured, so an analyst can find the person in the
views); exception messages lose anything shaped like an ID or mobile number (:func:`scrub`).
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..settings import Settings

# Columns whose values are personal data (SMS text carries the name, the
# responsible officer is a staff member's name): never written raw.
PERSONAL_COLUMNS = frozenset({"id_no", "name", "phone", "text", "responsible_officer"})

MASKING_METHOD = "keyed sha256; id_no as pk:<person_key> when a person key is configured"


class Masker:
    """``mask(column, value)``: the value, masked when the column is personal."""

    def __init__(self, settings: "Settings"):
        self.settings = settings
        self.keyed = bool(settings.person_key_secret)
        # without a key: a random one, so masks cannot be matched across runs (or brute-forced)
        self.secret = settings.person_key_secret or secrets.token_hex(16)

    def __call__(self, column: str | None, value: Any) -> Any:
        value = plain(value)
        if column not in PERSONAL_COLUMNS or value is None:
            return value
        if isinstance(value, (list, dict)):
            return "<masked>"
        s = str(value)
        if column == "id_no" and self.keyed:
            from ..warehouse import person_key  # the analysts' views show the same key

            return f"pk:{person_key(s, self.settings)} (len {len(s)})"
        digest = hashlib.sha256((self.secret + "|" + column + "|" + s).encode()).hexdigest()[:12]
        return f"{column}#{digest} (len {len(s)})"


def mask_example(example: Any, columns: tuple[str, ...], mask: Masker) -> Any:
    """One unexpected example of an expectation on ``columns``, masked."""
    if isinstance(example, dict):
        return {str(k): mask(str(k), v) for k, v in example.items()}
    if isinstance(example, (tuple, list)) and len(columns) == len(example) > 1:
        return [mask(c, v) for c, v in zip(columns, example)]
    if len(columns) == 1:
        return mask(columns[0], example)
    # an example whose columns we cannot tell apart: mask it whole if any column is personal
    if PERSONAL_COLUMNS.intersection(columns):
        return "<masked>"
    return plain(example)


def scrub(text: str) -> str:
    """An exception message on one line, without anything shaped like an ID or mobile number
    (:func:`pipelines.contract.personal_spans`: grouped, prefixed, full-width digits too)."""
    from ..contract import personal_spans

    line = one_line(text)
    out, last = [], 0
    for s, e in personal_spans(line):
        out += [line[last:s], "<masked>"]
        last = e
    return ("".join(out) + line[last:])[:300]


def one_line(v: Any) -> str:
    if not isinstance(v, str):
        v = json.dumps(v, ensure_ascii=False, default=str)
    return " ".join(v.split())


def plain(v: Any) -> Any:
    """JSON-friendly Python value of a numpy/pandas scalar or container."""
    if v is None:
        return None
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [plain(x) for x in v]
    if isinstance(v, str):
        return v
    import numpy as np
    import pandas as pd

    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (np.datetime64, np.timedelta64)):
        v = pd.Timestamp(v) if isinstance(v, np.datetime64) else pd.Timedelta(v)
        return None if pd.isna(v) else v.isoformat()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (int, float, bool)):
        return v
    if hasattr(v, "isoformat"):  # datetime, date, pandas Timestamp
        return v.isoformat()
    return str(v)
