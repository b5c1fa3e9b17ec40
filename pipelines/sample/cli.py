"""``retire-prep sample``: write a synthetic push batch (generated data only)."""

from __future__ import annotations

import argparse
import sys

from . import draw
from .batch import generate_batch


def add_sample_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``retire-prep sample`` (see :func:`cli_sample`)."""
    parser.add_argument("--persons", type=int, default=None, help="persons in a FULL batch")
    parser.add_argument("--month", required=True, help="data month YYYY-MM")
    parser.add_argument("--out", required=True, help="the batch folder to write")
    parser.add_argument("--incr-from", default=None, help="previous batch folder: write an INCR on top of it")
    parser.add_argument("--changes", type=int, default=None, help="INCR: changed persons (default 100)")
    parser.add_argument("--encoding", choices=("UTF-8", "GB18030"), default="UTF-8")
    parser.add_argument("--format", dest="fmt", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--bad-rows", type=float, default=0.0, help="share of rows that break the contract")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seq", type=int, default=None, help="batch seq (FULL default 1; INCR previous + 1)")
    parser.add_argument("--batch-id", default=None)
    return parser


def run_sample(args: argparse.Namespace) -> int:
    """Run ``retire-prep sample`` from parsed arguments; prints a one-line summary."""
    if args.incr_from is None and args.persons is None:
        raise ValueError("--persons is required for a FULL batch (or give --incr-from)")
    if args.incr_from is not None and args.persons is not None:
        raise ValueError("--persons does not apply to an INCR: use --changes")
    if args.incr_from is None and args.changes is not None:
        raise ValueError("--changes needs --incr-from")
    total = args.persons or 0
    show = sys.stderr.isatty() and total >= 5 * draw.CHUNK

    def progress(done, total):
        if show:
            print(f"\rsample: {done:,}/{total:,} persons", end="", file=sys.stderr, flush=True)

    man = generate_batch(
        args.out,
        persons=total,
        month=args.month,
        seed=args.seed,
        encoding=args.encoding,
        fmt=args.fmt,
        bad_rows=args.bad_rows,
        incr_from=args.incr_from,
        changes=100 if args.changes is None else args.changes,
        seq=args.seq,
        batch_id=args.batch_id,
        progress=progress,
    )
    if show:
        print(file=sys.stderr)
    rows = ", ".join(f"{k} {v['rows']} rows" for k, v in man["files"].items())
    print(f"{man['push_type']} batch {man['batch_id']} seq {man['seq']} → {args.out}: {rows}")
    return 0


def cli_sample(argv: list[str] | None = None) -> int:
    """``retire-prep sample --persons N --month YYYY-MM --out DIR [--incr-from DIR --changes K]
    [--encoding UTF-8|GB18030] [--format csv|parquet] [--bad-rows R] [--seed S]``."""
    parser = add_sample_arguments(
        argparse.ArgumentParser(
            prog="retire-prep sample", description="Write a synthetic push batch (generated data only)."
        )
    )
    args = parser.parse_args(argv)
    try:
        return run_sample(args)
    except (ValueError, OSError, KeyError) as exc:
        print(f"retire-prep sample: {exc}", file=sys.stderr)
        return 2


main_sample = cli_sample
