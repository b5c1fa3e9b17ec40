"""An INCR batch on top of a previous batch folder (push-format.md): U rows (one changed field,
all the person's segments again), I rows (new persons), D rows (op and id_no only).

Changed persons are a seeded sample of the previous batch's valid, unduplicated rows (op D rows
skipped), read back streaming: the previous batch may be of any size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..contract import PERSON_COLUMNS, SEGMENT_COLUMNS
from . import draw
from ..months import format_yyyymm, month_index, parse_yyyymm
from .breakage import break_persons, break_segments
from .checks import check_person_row, check_segment_row
from .codes import NX_COUNTIES, MOBILE_PREFIXES, OFFICE_WEIGHTS, OTHER_CODES
from .context import new_context
from .rates import chance, shares, span, split
from .reading import collect_rows, data_file, read_manifest, record_batches
from .writing import TableWriter, manifest_of, prepare_dir, write_manifest

# random streams: numpy.random.default_rng([seed, STREAM, seq])
STREAM_SAMPLE, STREAM_CHANGES, STREAM_INSERTS, STREAM_ORDER, STREAM_BREAKAGE = 2, 3, 4, 5, 6
# what a U row changes, by position in the "incr_update" split
UPDATE_KINDS = ("contribution", "phone", "deemed", "suspend", "office", "hukou", "deceased", "retired", "ministry")
assert len(UPDATE_KINDS) == len(split("incr_update"))
INSERT_CODES = (900, 45)  # ID sequence codes of inserted persons: 900 + 2 × (0..44) + parity


def _change_field(row: dict, rng: np.random.Generator) -> None:
    """One field of the row changes (``incr_update``), in place."""
    kind = UPDATE_KINDS[rng.choice(len(UPDATE_KINDS), p=shares("incr_update"))]
    if kind == "deemed" and row["deemed_status"] != "2":
        kind = "contribution"
    if kind == "suspend" and row["contribution_status"] != "1":
        kind = "contribution"
    if kind == "contribution":
        more = span("incr_more_months")
        row["actual_contribution_months"] = str(
            int(row["actual_contribution_months"]) + int(rng.integers(more.low, more.high + 1))
        )
    elif kind == "phone":
        prefix = MOBILE_PREFIXES[int(rng.integers(0, len(MOBILE_PREFIXES)))]
        row["phone"] = f"{prefix}{int(rng.integers(0, 100_000_000)):08d}"
    elif kind == "deemed":
        row["deemed_status"] = "1"
    elif kind == "suspend":
        row["contribution_status"] = "2"
    elif kind == "office":
        offices = [c for c, _ in OFFICE_WEIGHTS if str(c) != row["insured_region"]]
        row["insured_region"] = str(offices[int(rng.integers(0, len(offices)))])
    elif kind == "hukou":
        row["hukou_region"] = str(NX_COUNTIES[int(rng.integers(0, len(NX_COUNTIES)))])
    elif kind == "deceased":
        row["survival_status"] = "2"
    elif kind == "retired":
        row["retired"] = "1"
    elif kind == "ministry":
        row["benefit_region_ministry"] = "" if row["benefit_region_ministry"] else "640000"


def _add_segment(row: dict, segs: list[dict], rng: np.random.Generator, month_idx: int) -> None:
    """One more segment (``incr_extra_segment``), in place: up to the data month when the last one
    ended over 2 months before, else an earlier one in another province."""
    starts = [parse_yyyymm(s["start_month"]) for s in segs]
    ends = [parse_yyyymm(s["end_month"]) for s in segs]
    birth = row["birth_date"]
    age_16 = month_index(int(birth[:4]), int(birth[4:6])) + 192
    last = max(ends) if ends else None
    if last is not None and last < month_idx - 2:
        start, end, region, relation = last + 1, month_idx - 1, row["insured_region"], "1"
        if region in ("640000", "640900") or region.endswith("00"):
            region = "640104"
        row["contribution_status"] = "1"
    else:
        first = min(starts) if starts else month_idx - 1
        months, gap = span("incr_earlier_segment_months"), span("incr_earlier_segment_gap")
        length = int(rng.integers(months.low, months.high + 1))
        end = first - 1 - int(rng.integers(gap.low, gap.high + 1))
        start = max(end - length + 1, age_16)
        region = str(OTHER_CODES[int(rng.integers(0, len(OTHER_CODES)))][0])
        relation = "2"
    if end >= start:
        segs.append(
            {
                "id_no": row["id_no"],
                "region_code": region,
                "start_month": format_yyyymm(start),
                "end_month": format_yyyymm(end),
                "relation_status": relation,
            }
        )
        segs.sort(key=lambda s: s["start_month"])
        row["actual_contribution_months"] = str(int(row["actual_contribution_months"]) + end - start + 1)


def change_person(row: dict, segs: list[dict], rng: np.random.Generator, month_idx: int) -> tuple[dict, list[dict]]:
    """The U row of a person and all their segments again."""
    row = dict(row, op="U")
    segs = [dict(s) for s in segs]
    _change_field(row, rng)
    if rng.random() < chance("incr_extra_segment"):
        _add_segment(row, segs, rng, month_idx)
    return row, segs


def _valid_rows(prev: Path, n_prev: int, want: int, push_type: str, rng: np.random.Generator) -> list[dict]:
    """Up to ``want`` valid, unduplicated persons rows of the previous batch, in a seeded order."""
    sample = (
        rng.choice(n_prev, size=min(n_prev, 3 * want + 20), replace=False) if n_prev and want else np.array([], int)
    )
    rank = {int(x): k for k, x in enumerate(sample.tolist())}
    # the sampled rows, and how often their id_no occurs (duplicates are quarantined)
    picked, counts = collect_rows(record_batches(prev, "persons"), sample)
    chosen = []
    for idx in sorted(picked, key=lambda x: rank[x]):
        row = picked[idx]
        if row["op"].strip() == "D" or counts.get(row["id_no"].strip().upper(), 0) != 1:
            continue
        if check_person_row(row, push_type) is not None:
            continue
        chosen.append(row)
        if len(chosen) == want:
            break
    return chosen


def _segments_of(prev: Path, rows: list[dict]) -> dict[str, list[dict]]:
    """The valid segments of these persons in the previous batch, by trimmed upper-case id_no."""
    wanted = {r["id_no"].strip().upper() for r in rows}
    segs_of: dict[str, list[dict]] = {k: [] for k in wanted}
    if wanted:
        import pyarrow as pa
        import pyarrow.compute as pc

        keys = pa.array(sorted(wanted), pa.string())
        for rb in record_batches(prev, "segments"):
            up = pc.utf8_upper(pc.utf8_trim_whitespace(rb.column(0)))
            for seg in rb.filter(pc.is_in(up, keys)).to_pylist():
                if check_segment_row(seg) is None:
                    segs_of[seg["id_no"].strip().upper()].append(seg)
    return segs_of


def _inserted(month_idx: int, seed: int, seq: int, n: int) -> tuple[list[dict], list[list[dict]]]:
    """``n`` new persons (op I) and their segments, with ID sequence codes no FULL uses."""
    ctx = new_context(month_idx, seed)
    ctx.code_base, ctx.code_span, ctx.code_shift = *INSERT_CODES, seq
    drawn = draw.draw_chunk(ctx, np.random.default_rng([seed, STREAM_INSERTS, seq]), n)
    person_cols = drawn["persons"]
    segment_cols = draw.segment_columns_with_ids(drawn, person_cols["id_no"])
    per: list[list[dict]] = [[] for _ in range(n)]
    for j, owner in enumerate(drawn["segments"]["owner"].tolist()):
        per[owner].append({c: segment_cols[c][j] for c in SEGMENT_COLUMNS})
    rows = [{c: person_cols[c][i] for c in PERSON_COLUMNS} | {"op": "I"} for i in range(n)]
    return rows, per


def generate_incr(
    out: Path, prev: Path, *, month_idx, month, seed, encoding, fmt, bad_rows, changes, seq, batch_id, bom
) -> dict:
    """Write the INCR folder ``out`` on top of ``prev``; returns its manifest (arguments checked by
    :func:`.batch.generate_batch`)."""
    prev_manifest = read_manifest(prev)
    prev_seq = int(prev_manifest["seq"])
    seq = prev_seq + 1 if seq is None else int(seq)
    n_prev = int(prev_manifest["files"][data_file(prev, prev_manifest, "persons").name]["rows"])
    op_share = dict(split("incr_ops"))
    n_delete = int(round(changes * op_share["D"]))
    n_insert = int(round(changes * op_share["I"]))
    n_update = changes - n_delete - n_insert
    want = n_update + n_delete
    rng = np.random.default_rng([seed, STREAM_SAMPLE, seq])
    chosen = _valid_rows(prev, n_prev, want, prev_manifest.get("push_type", "FULL"), rng)
    updates, deletes = chosen[:n_update], chosen[n_update:]
    n_insert += want - len(chosen)  # not enough valid rows: more inserts

    segs_of = _segments_of(prev, updates)
    rows: list[dict] = []
    segs: list[list[dict]] = []
    change_rng = np.random.default_rng([seed, STREAM_CHANGES, seq])
    for row in updates:
        new, new_segs = change_person(row, segs_of[row["id_no"].strip().upper()], change_rng, month_idx)
        rows.append(new)
        segs.append(new_segs)
    for row in deletes:
        rows.append({c: "" for c in PERSON_COLUMNS} | {"op": "D", "id_no": row["id_no"]})
        segs.append([])
    if n_insert:
        new_rows, new_segs = _inserted(month_idx, seed, seq, n_insert)
        rows += new_rows
        segs += new_segs
    order = np.random.default_rng([seed, STREAM_ORDER, seq]).permutation(len(rows)).tolist()
    person_cols = {c: [rows[i][c] for i in order] for c in PERSON_COLUMNS}
    segment_rows = [s for i in order for s in segs[i]]
    segment_cols = {c: [s[c] for s in segment_rows] for c in SEGMENT_COLUMNS}
    breakage_rng = np.random.default_rng([seed, STREAM_BREAKAGE, seq])
    break_persons(person_cols, bad_rows, breakage_rng)
    break_segments(segment_cols, bad_rows, breakage_rng)

    prepare_dir(out)
    person_writer = TableWriter(out / f"persons.{fmt}", PERSON_COLUMNS, fmt, encoding, bom)
    segment_writer = TableWriter(out / f"segments.{fmt}", SEGMENT_COLUMNS, fmt, encoding, bom)
    person_writer.write(person_cols)
    segment_writer.write(segment_cols)
    files = {f"persons.{fmt}": person_writer.close(), f"segments.{fmt}": segment_writer.close()}
    manifest = manifest_of(
        batch_id=batch_id or f"NX640000-{month.replace('-', '')}-INCR-{seq:04d}",
        push_type="INCR",
        month=month,
        seq=seq,
        base_seq=prev_seq,
        encoding=encoding,
        files=files,
    )
    write_manifest(out, manifest)
    return manifest
