"""An applications file (push-format.md "Applications") for a batch's persons.

Whom the applications are for, who applies and where: the ``application_kind``,
``applicant_type``, ``application_online`` and ``counter_other_office`` rows of
:data:`.rates.RATES`. Only valid, unduplicated, alive, not retired persons rows are used.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..contract import APPLICATION_COLUMNS, PERSON_COLUMNS
from . import draw
from .arrays import days_in_month, parse_month_arg
from .breakage import orphan_id
from .checks import check_person_row
from .codes import OFFICE_WEIGHTS
from .context import new_context
from .rates import chance, cuts, shares
from .reading import collect_rows, read_manifest, record_batches

STREAM_APPLICATIONS = 7  # numpy.random.default_rng([seed, 7, month])


def _population_batches(args: dict):
    """The persons of ``generate_batch(persons=N, month=M, seed=S)`` without bad rows, as RecordBatches."""
    import pyarrow as pa

    month_idx = parse_month_arg(args["month"])
    seed = int(args.get("seed", 1))
    ctx = new_context(month_idx, seed)
    for chunk_no, n in draw.chunks(int(args["persons"])):
        cols = draw.draw_chunk(ctx, np.random.default_rng([seed, 0, chunk_no]), n)["persons"]
        yield pa.RecordBatch.from_arrays(
            [pa.array(cols[c], pa.string()) for c in PERSON_COLUMNS], names=list(PERSON_COLUMNS)
        )


def _application_buckets(rb, month_idx: int) -> np.ndarray:
    """Per persons row: 1 original age in 13..24 months, 2 in 0..12, 3 past and not suspended,
    4 in 25..36 months, 0 otherwise (or deleted, deceased, retired, unreadable birth date)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = rb.schema.names

    def col(c):
        return np.asarray(
            pc.utf8_trim_whitespace(rb.column(names.index(c))).to_numpy(zero_copy_only=False), dtype=object
        )

    bd = pc.utf8_trim_whitespace(rb.column(names.index("birth_date")))
    ok = pc.fill_null(pc.match_substring_regex(bd, r"^[0-9]{4}(0[1-9]|1[0-2])[0-9]{2}$"), False)
    bd = pc.if_else(ok, bd, "19000101")
    y = pc.cast(pc.utf8_slice_codeunits(bd, 0, 4), pa.int64()).to_numpy()
    m = pc.cast(pc.utf8_slice_codeunits(bd, 4, 6), pa.int64()).to_numpy()
    pt = col("person_type")
    age = np.where(
        (col("insurance_type") == "170") | (col("gender") == "1"), 60, np.where((pt == "2") | (pt == "3"), 55, 50)
    )
    d = y * 12 + m - 1 + 12 * age - month_idx
    alive = (
        ok.to_numpy(zero_copy_only=False)
        & (col("survival_status") != "2")
        & (col("retired") != "1")
        & (col("op") != "D")
    )
    susp = col("contribution_status") == "2"
    return np.select(
        [~alive, (d >= 13) & (d <= 24), (d >= 0) & (d <= 12), (d < 0) & ~susp, (d >= 25) & (d <= 36)],
        [0, 1, 2, 3, 4],
        0,
    ).astype(np.int8)


def _candidates(bucket: np.ndarray, n: int, rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
    """Per kind of application (buckets 1..4): how many, and the candidate rows in a seeded order."""
    plan = []
    for code, share in enumerate(shares("application_kind")[:-1], start=1):  # the last: not in the push
        k = int(round(n * share))
        cand = np.flatnonzero(bucket == code)
        order = rng.choice(len(cand), size=min(len(cand), 3 * k + 10), replace=False) if k and len(cand) else []
        plan.append((k, cand[np.asarray(order, dtype=np.int64)]))
    return plan


def _applicants(batches, push_type: str, month_idx: int, n: int, rng) -> list[tuple[str, str, bool]]:
    """``(id_no, office, has_employer)`` of up to ``n`` applicants: persons of the push by kind, then
    ID numbers not in the push."""
    bucket = np.concatenate([_application_buckets(rb, month_idx) for rb in batches()] or [np.zeros(0, np.int8)])
    plan = _candidates(bucket, n, rng)
    orphans = [orphan_id(rng) for _ in range(n)]
    wanted = np.concatenate([pos for _, pos in plan] or [np.zeros(0, np.int64)])
    rows, counts = collect_rows(batches(), wanted, extra_keys=[o.upper() for o in orphans])
    picked: list[tuple[str, str, bool]] = []
    for k, positions in plan:
        got = 0
        for pos in positions.tolist():
            if got == k or len(picked) == n:
                break
            row = rows[pos]
            if counts.get(row["id_no"].strip().upper(), 0) != 1 or check_person_row(row, push_type):
                continue
            has_emp = bool(row["employer_uscc"].strip() or row["employer_name"].strip())
            picked.append((row["id_no"], row["insured_region"].strip(), has_emp))
            got += 1
    for oid in orphans:  # ID numbers not in the push
        if len(picked) == n:
            break
        if counts.get(oid.upper(), 0) == 0 and oid not in {p[0] for p in picked}:
            picked.append((oid, str(OFFICE_WEIGHTS[int(rng.integers(0, len(OFFICE_WEIGHTS)))][0]), False))
    return picked


def write_applications(path, source, month: str, seed: int = 1, n: int = 100) -> int:
    """Write an applications CSV (push-format.md "Applications"); returns the rows written.

    ``source``: a batch folder (its persons file is streamed twice), or a dict
    ``{"persons": N, "month": "YYYY-MM", "seed": S}`` (the population of that FULL,
    regenerated in memory: without bad rows it gives the same file as the batch folder
    when the chosen rows are all valid). Of the ``n`` applications, shares by
    ``application_kind`` (persons 25–36 months before their original age are beyond the
    application horizon: the pipeline must not take them in). ``applied_on`` falls in the
    month before ``month``; ``channel`` online or counter; ``county_code`` the person's
    office (online, and most of counter) or another office; ``applicant_type`` 1 employer,
    2 self, 3 agent. Rows are sorted by ``applied_on``, then ``id_no``; UTF-8, no BOM.
    """
    month_idx = parse_month_arg(month)
    rng = np.random.default_rng([seed, STREAM_APPLICATIONS, month_idx])
    if isinstance(source, dict):
        batches = lambda: _population_batches(source)  # noqa: E731
        push_type = "FULL"
    else:
        batches = lambda: record_batches(source, "persons")  # noqa: E731
        push_type = read_manifest(Path(source)).get("push_type", "FULL")
    picked = _applicants(batches, push_type, month_idx, n, rng)
    prev = month_idx - 1
    y, m = prev // 12, prev % 12 + 1
    days = int(days_in_month(np.array([y]), np.array([m]))[0])
    office_codes = [str(c) for c, _ in OFFICE_WEIGHTS]
    by_employer, self_below = cuts("applicant_type")
    out_rows = []
    for id_no, office, has_emp in picked:
        u = rng.random()
        applicant_type = "1" if has_emp and u < by_employer else ("2" if u < self_below else "3")
        channel = "online" if rng.random() < chance("application_online") else "counter"
        county = office
        if channel == "counter" and rng.random() < chance("counter_other_office"):
            county = office_codes[int(rng.integers(0, len(office_codes)))]
        day = int(rng.integers(1, days + 1))
        out_rows.append((id_no, applicant_type, f"{y:04d}{m:02d}{day:02d}", channel, county))
    out_rows.sort(key=lambda r: (r[2], r[0]))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(APPLICATION_COLUMNS)
        w.writerows(out_rows)
    return len(out_rows)
