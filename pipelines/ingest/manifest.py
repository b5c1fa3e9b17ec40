"""Ingest, the manifest and the files' shape (push-format.md): a batch folder's ``manifest.json``
verified (shape, names, hashes) into a :class:`Manifest`, and a file's header held to the contract."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .. import months
from ..contract import PERSON_COLUMNS, SEGMENT_COLUMNS, plain_file_name, shown_column_names, shown_file_name
from ..errors import BatchRefused

FILE_COLUMNS = {"persons": PERSON_COLUMNS, "segments": SEGMENT_COLUMNS}
ALLOWED_FILES = {
    "persons.csv": ("persons", "csv"),
    "persons.parquet": ("persons", "parquet"),
    "segments.csv": ("segments", "csv"),
    "segments.parquet": ("segments", "parquet"),
}
# Checked with fullmatch: `$` would also match before a final newline ("NX-1\n"), and the
# classes are spelt out because \d matches any Unicode digit ("٢٠٢٦-11").
_BATCH_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Integers go into BIGINT columns and parameters: a larger one would crash the first query.
_BIGINT_MAX = 2**63 - 1
# Parquet columns that may arrive typed: how to turn them back into the CSV text.
_NESTED_TYPE = re.compile(r"\[|^(STRUCT|MAP|UNION|LIST)\b")
_PARQUET_DATE_FORMAT = {"birth_date": "%Y%m%d", "start_month": "%Y%m", "end_month": "%Y%m"}


@dataclass
class Manifest:
    """A verified manifest: shape, names and file hashes checked."""

    dir: Path
    batch_id: str
    seq: int
    push_type: str
    base_seq: int | None
    data_month: str
    generated_at: str
    encoding: str
    files: dict[str, dict]  # kind -> {"name", "format", "rows", "sha256"}
    content_hash: str

    @property
    def file_format(self) -> str:
        return self.files["persons"]["format"]


@dataclass
class IngestReport:
    """What one ``ingest`` call did, batch by batch (no personal data)."""

    applied: list[dict] = field(default_factory=list)
    noop: list[str] = field(default_factory=list)
    held: list[dict] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    refused: list[BatchRefused] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for a in self.applied:
            out.append(
                f"applied {a['batch_id']} (seq {a['seq']}, {a['push_type']}): persons "
                f"{a['persons_accepted']}/{a['persons_rows']} accepted, {a['persons_quarantined']} quarantined; "
                f"segments {a['segments_accepted']}/{a['segments_rows']} accepted, "
                f"{a['segments_quarantined']} quarantined; {a['persons_inserted']} new, "
                f"{a['persons_updated']} changed, {a['persons_left']} left the push, {a['warnings']} warnings"
            )
            if a.get("persons_kept_segments"):  # a count only: no ID number (docs/decisions.md)
                out[-1] += (
                    f"; {a['persons_kept_segments']} kept their earlier segments (a segment row of theirs quarantined)"
                )
        out += [f"already applied, nothing to do: {b}" for b in self.noop]
        out += [f"held back {h['batch_id']} (seq {h['seq']}): waiting for seq {h['missing']}" for h in self.held]
        out += [f"superseded by a later FULL, never applied: {b}" for b in self.superseded]
        out += [f"REFUSED {r}" for r in self.refused]
        return out


# --------------------------------------------------------------------------- manifest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_int(value, least: int) -> bool:
    """A JSON integer from ``least`` to 2^63-1; a boolean is not one (``True`` is an int in Python)."""
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= _BIGINT_MAX


def read_manifest(batch_dir: str | Path) -> Manifest:
    """Read and verify ``manifest.json`` and the files it names (push-format.md).

    Refuses: missing or unparsable manifest, a key of the wrong shape, a file
    name that is not one of the four contract names (so nothing can leave the
    batch folder), missing files, a hash or size mismatch.
    """
    # One piece (issue 15): push-format.md's manifest checks in the contract's order, each refusal
    # one line; split, the order in which a broken manifest is refused would be harder to see.
    d = Path(batch_dir)
    # the folder names the batch until its batch_id is read: a name anyone may have given it, shown
    # with the digits of what may be an ID or mobile number masked, as a feedback file's name is
    # (the refusal goes to the log, the report and the analysts' `batches`; privacy probe)
    label = shown_file_name(d.name or str(d))
    mpath = d / "manifest.json"
    if mpath.is_symlink():
        # as the data files below: the batch folder must hold the file itself (a link could point
        # anywhere on the machine, and change between the check and the read)
        raise BatchRefused(
            label, "manifest.json is a symbolic link: the batch folder must hold the file itself", "manifest.json"
        )
    if not mpath.is_file():
        raise BatchRefused(label, "no manifest.json in the batch folder", "manifest.json")
    try:
        m = json.loads(mpath.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BatchRefused(
            label, f"manifest.json is not valid JSON ({exc.__class__.__name__})", "manifest.json"
        ) from None
    if not isinstance(m, dict):
        raise BatchRefused(label, "manifest.json is not an object", "manifest.json")

    bid = m.get("batch_id")
    if not isinstance(bid, str) or not _BATCH_ID.fullmatch(bid):
        raise BatchRefused(label, "batch_id must match [0-9A-Za-z-]{1,64}", "manifest.json")
    label = bid

    def bad(reason: str) -> BatchRefused:
        return BatchRefused(label, reason, "manifest.json")

    if m.get("province") != "640000":
        raise bad('province must be "640000"')
    if m.get("schema_version") != "1.0":
        raise bad('schema_version must be "1.0"')
    ptype = m.get("push_type")
    if ptype not in ("FULL", "INCR"):
        raise bad("push_type must be FULL or INCR")
    month = m.get("data_month")
    # years 1900-2099 (months.YEARS), as every other month coming in: 0001-01 or 9999-12 would be
    # applied and then be the month every later push is compared with (issue 14)
    if not months.is_month(month, years=months.YEARS):
        raise bad("data_month must be YYYY-MM of the years 1900-2099")
    seq = m.get("seq")
    if not _is_int(seq, 1):
        raise bad("seq must be an integer from 1 to 2^63-1")
    base = m.get("base_seq")
    if ptype == "FULL" and base is not None:
        raise bad("a FULL batch has base_seq null")
    if ptype == "INCR" and (not _is_int(base, 1) or base >= seq):
        raise bad("an INCR batch needs an integer base_seq below its seq")
    gen = m.get("generated_at")
    try:
        if not isinstance(gen, str) or datetime.fromisoformat(gen).utcoffset() is None:
            raise ValueError
    except ValueError:
        raise bad("generated_at must be ISO 8601 with an offset") from None
    enc = m.get("encoding")
    if not isinstance(enc, str) or not enc.isascii() or enc.upper() not in ("UTF-8", "GB18030"):
        raise bad("encoding must be UTF-8 or GB18030")
    files = m.get("files")
    if not isinstance(files, dict):
        raise bad("files must be an object")

    by_kind: dict[str, dict] = {}
    for name, info in files.items():
        if name not in ALLOWED_FILES:
            # also catches '../x', '/etc/x', 'sub/persons.csv'
            shown = repr(name) if plain_file_name(name) else "(not shown: not a plain file name)"
            raise bad(f"file name {shown} is not one of {sorted(ALLOWED_FILES)}")
        kind, fmt = ALLOWED_FILES[name]
        if kind in by_kind:
            raise bad(f"two {kind} files")
        if (
            not isinstance(info, dict)
            or not _is_int(info.get("rows"), 0)
            or not isinstance(info.get("sha256"), str)
            or not _HEX64.fullmatch(info["sha256"].lower())
        ):
            raise bad(f"files.{name} needs rows (integer from 0 to 2^63-1) and sha256 (64 hex)")
        by_kind[kind] = {"name": name, "format": fmt, "rows": info["rows"], "sha256": info["sha256"].lower()}
    for kind in ("persons", "segments"):
        if kind not in by_kind:
            raise bad(f"no {kind} file in files")
    if by_kind["persons"]["format"] != by_kind["segments"]["format"]:
        raise bad("persons and segments files must have the same format")

    for kind, info in by_kind.items():
        fpath = d / info["name"]
        if fpath.is_symlink():
            raise BatchRefused(
                label,
                "file named in the manifest is a symbolic link: the batch folder must hold the file itself",
                info["name"],
                seq=seq,
            )
        if not fpath.is_file():
            raise BatchRefused(label, "file named in the manifest is missing", info["name"], seq=seq)
        if _sha256(fpath) != info["sha256"]:
            raise BatchRefused(label, "sha256 of the file's bytes does not match the manifest", info["name"], seq=seq)

    ident = json.dumps(
        {
            "batch_id": bid,
            "seq": seq,
            "push_type": ptype,
            "base_seq": base,
            "data_month": month,
            "files": {k: [v["name"], v["rows"], v["sha256"]] for k, v in sorted(by_kind.items())},
        },
        sort_keys=True,
    )
    return Manifest(
        dir=d,
        batch_id=bid,
        seq=seq,
        push_type=ptype,
        base_seq=base,
        data_month=month,
        generated_at=gen,
        encoding=enc.upper(),
        files=by_kind,
        content_hash=hashlib.sha256(ident.encode()).hexdigest(),
    )


def _header_problem(header: list[str], expected) -> str | None:
    """Why a header is not the contract's columns in some order (names only from ``expected``
    until every one of them is present), or None."""
    missing = [c for c in expected if c not in header]
    if missing:
        return f"header lacks columns {missing}"
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        return f"header repeats columns {shown_column_names(dup)}"
    extra = [c for c in header if c not in expected]
    if extra:
        return f"header has columns not in the contract {shown_column_names(extra)}"
    return None


def _check_header(man: Manifest, fname: str, kind: str, header: list[str]) -> None:
    problem = _header_problem(header, FILE_COLUMNS[kind])
    if problem:
        raise BatchRefused(man.batch_id, problem, fname)
