"""``retire-prep``: the command line (outputs.md "Command line").

Every command calls the same ``pipelines`` functions as the Airflow DAGs.
Refused input ends with exactly one line on stderr — the reason, never an ID
number, name or phone — and a non-zero exit: argument errors (exit 2), refused
data (``RetirePrepError`` and its exit code), files or a warehouse that cannot be
opened (exit 2), and anything unexpected (exit 1, its type only; ``-v`` shows the
traceback).  Results go to stdout; progress to stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path

from .errors import RetirePrepError

DEFAULT_WAREHOUSE = "./warehouse.duckdb"
DEFAULT_OUT = "./out"


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _progress(msg: str) -> None:
    # shown to a person at a terminal; a script or a scheduler reads stdout for the results and
    # stderr for the one line of a refusal, and nothing else
    if sys.stderr.isatty():
        print(f"retire-prep: {msg}", file=sys.stderr, flush=True)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (outputs.md), not the usage block."""

    def error(self, message: str):
        from .validate import scrub  # an argument echoed (an ID number pasted into --birth …): masked

        self.exit(2, f"retire-prep: {scrub(message)} (see {self.prog} --help)\n")


def _month_arg(value: str) -> str:
    """A ``YYYY-MM`` month of the years 1900–2099 (what the pipeline's month arithmetic covers)."""
    from .months import YEARS, is_month

    if not is_month(value, years=YEARS):
        raise argparse.ArgumentTypeError(f"not a YYYY-MM month of 1900-2099: {value!r}")
    return value


def _existing_warehouse(a) -> None:
    """Commands that read or add to a warehouse refuse a path that holds none (a typo must not
    create an empty warehouse and report success into it); ``ingest`` and ``demo`` create one."""
    if not Path(a.warehouse).is_file():
        raise RetirePrepError(f"no warehouse at {a.warehouse}: check --warehouse, or ingest a push first")


def cmd_ingest(a) -> int:
    from .ingest import ingest_batches

    _progress(f"ingesting {len(a.batch_dirs)} batch folder(s) into {a.warehouse}")
    report = ingest_batches(a.batch_dirs, a.warehouse, accept_departures=a.accept_departures)
    for line in report.lines():
        print(line)
    if report.refused:
        print(f"retire-prep: refused: {report.refused[0]}", file=sys.stderr)
        return 2
    return 0


def cmd_applications(a) -> int:
    from .ingest import load_applications

    _existing_warehouse(a)
    print(json.dumps(load_applications(a.files, a.warehouse), ensure_ascii=False))
    return 0


def cmd_run(a) -> int:
    from .ingest import load_applications
    from .monthly import run_month

    _existing_warehouse(a)
    if a.applications:
        load_applications(a.applications, a.warehouse)
    _progress(f"monthly run {a.month}: screen → ledger → notices → outputs")
    report = run_month(a.month, a.warehouse, a.out, replay=a.replay, ahead_of_push=a.ahead_of_push)
    for line in report.lines():
        print(line)
    return 0


def cmd_declare(a) -> int:
    from .declare import declare_month

    _existing_warehouse(a)
    _progress(f"month-start declaration screening {a.month}")
    report = declare_month(a.month, a.warehouse, a.out, replay=a.replay, ahead_of_push=a.ahead_of_push)
    for line in report.lines():
        print(line)
    return 0


def cmd_feedback(a) -> int:
    from .feedback import FeedbackFileRefused, apply_feedback_files

    _existing_warehouse(a)
    try:
        report = apply_feedback_files(
            [Path(f) for f in a.files], a.warehouse, office=a.office, receipts=Path(a.out) / "feedback"
        )
    except FeedbackFileRefused as exc:
        for line in exc.report.lines():
            print(line)
        raise
    for line in report.lines():
        print(line)
    return 0


def cmd_analysts(a) -> int:
    from .analysts import rebuild

    _existing_warehouse(a)
    print(rebuild(a.warehouse, full=a.full))
    return 0


def cmd_policy(a) -> int:
    from .policy import policy_json
    from .settings import load_settings

    settings = load_settings()  # the same settings as run/declare: a changed setting changes the ages
    try:
        obj = policy_json(a.gender, a.person_type, a.insurance_type, a.birth, a.month, settings)
    except ValueError as exc:  # a malformed --birth / --month: one line, like any refused input
        raise RetirePrepError(str(exc)) from None
    print(json.dumps(obj, ensure_ascii=False))
    return 0


def cmd_explain(a) -> int:
    from .explain import explain_person

    _existing_warehouse(a)
    print(explain_person(a.id_no, a.month, a.warehouse, lang=a.lang))
    return 0


def cmd_forecast(a) -> int:
    from .forecast import forecast_rows, format_rows

    _existing_warehouse(a)
    table, note = forecast_rows(a.month, a.warehouse, a.horizon)
    for line in format_rows(table, a.month, note):
        print(line)
    return 0


def cmd_sample(argv: list[str]) -> int:
    from .sample import cli_sample

    return cli_sample(argv)


def cmd_demo(a) -> int:
    from .demo import run_demo

    return run_demo(Path(a.out), Path(a.warehouse) if a.warehouse else None)


def build_parser() -> argparse.ArgumentParser:
    # One piece (issue 15): the whole command line declared in one place, one block per command,
    # read top to bottom beside the README (tests/contract/test_docs.py holds the two together).
    p = _Parser(prog="retire-prep", description="Ningxia pension retirement pre-service pipeline")
    p.add_argument("-v", "--verbose", action="store_true", help="log every step")
    sub = p.add_subparsers(dest="command", required=True)

    def wh(sp):
        sp.add_argument("--warehouse", default=DEFAULT_WAREHOUSE, help="DuckDB file (default ./warehouse.duckdb)")

    def month(sp):
        sp.add_argument("--month", required=True, metavar="YYYY-MM", type=_month_arg, help="the month P")

    def ahead(sp, normally: str):
        sp.add_argument(
            "--ahead-of-push",
            action="store_true",
            help=f"normally only once {normally}: run a later month anyway (a mistyped month "
            f"cannot be taken back; the warehouse is copied first, see docs/operations.md)",
        )

    def out(sp):
        sp.add_argument("--out", default=DEFAULT_OUT, help="where OUT/P/ is written (default ./out)")

    sp = sub.add_parser("ingest", help="verify and apply push batches in seq order")
    sp.add_argument(
        "batch_dirs", nargs="+", metavar="BATCH_DIR", help="batch folders (manifest.json, persons, segments), any order"
    )
    sp.add_argument(
        "--accept-departures",
        action="append",
        default=[],
        metavar="BATCH_ID",
        help="apply this FULL even though most of the push would leave with it (refused DEPARTURES otherwise)",
    )
    wh(sp)
    sp.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("applications", help="load pre-service applications (trigger 2)")
    sp.add_argument("files", nargs="+", metavar="FILE", help="applications CSV files (push-format.md)")
    wh(sp)
    sp.set_defaults(func=cmd_applications)

    sp = sub.add_parser("run", help="the monthly pre-service run for month P")
    month(sp)
    wh(sp)
    out(sp)
    sp.add_argument("--applications", nargs="*", metavar="FILE", help="applications files to load first")
    sp.add_argument("--replay", action="store_true", help="re-emit a month before the last one run, as it was")
    ahead(sp, "P-1's push is applied")
    sp.set_defaults(func=cmd_run)

    sp = sub.add_parser("declare", help="month-start declaration screening for month P")
    month(sp)
    wh(sp)
    out(sp)
    sp.add_argument("--replay", action="store_true", help="re-write a month before the last one declared, as it was")
    ahead(sp, "P-2's push is applied")
    sp.set_defaults(func=cmd_declare)

    sp = sub.add_parser("feedback", help="apply county feedback files")
    sp.add_argument("files", nargs="+", metavar="FILE", help="county feedback CSV files (docs/feedback-format.md)")
    sp.add_argument(
        "--office",
        metavar="OFFICE",
        default=None,
        help="the office that sent the files (6 digits): rows of any other office are refused; "
        "without it a file must name one office only (docs/feedback-format.md)",
    )
    wh(sp)
    sp.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help="each file's receipt (回执), in Chinese, is written to OUT/feedback/<office>/<file>.回执.xlsx (default ./out)",
    )
    sp.set_defaults(func=cmd_feedback)

    sp = sub.add_parser("analysts", help="rebuild the analysts' file beside the warehouse (docs/analysts.md)")
    wh(sp)
    sp.add_argument("--full", action="store_true", help="write every table afresh, not a copy brought up to date")
    sp.set_defaults(func=cmd_analysts)

    sp = sub.add_parser("policy", help="retirement ages and months for one birth month (JSON)")
    sp.add_argument("--gender", required=True, type=int, choices=(1, 2), help="1 male, 2 female")
    sp.add_argument(
        "--person-type",
        type=int,
        choices=(1, 2, 3),
        default=None,
        help="110 only: 1 worker post, 2 cadre post, 3 flexible employment; a 110 woman "
        "without it is taken at 50 (rules.md §1); no effect for 170",
    )
    sp.add_argument(
        "--insurance-type",
        type=int,
        choices=(110, 170),
        default=110,
        help="110 enterprise employees (default), 170 urban-rural residents",
    )
    sp.add_argument(
        "--birth", required=True, metavar="YYYY-MM", type=_month_arg, help="birth month as the archive records it"
    )
    sp.add_argument(
        "--month",
        default=None,
        metavar="YYYY-MM",
        type=_month_arg,
        help="also print months_to_original / months_to_statutory from this month",
    )
    sp.set_defaults(func=cmd_policy)

    sp = sub.add_parser("explain", help="every decision about one person in month P, with its rule")
    sp.add_argument("id_no", metavar="ID_NO", help="the person's ID number (18 characters)")
    month(sp)
    wh(sp)
    sp.add_argument(
        "--lang",
        choices=("zh", "en"),
        default="zh",
        help="zh (default): in Chinese, for the county officer; en: in English, for the engineers",
    )
    sp.set_defaults(func=cmd_explain)

    sp = sub.add_parser(
        "forecast", help="each office's workload for the months after P, as P's run forecast it (read-only)"
    )
    wh(sp)
    month(sp)
    sp.add_argument(
        "--horizon",
        type=int,
        default=None,
        metavar="N",
        help="months after P (default: the forecast_horizon setting; more than the run stored is "
        "computed now from P's screening)",
    )
    sp.set_defaults(func=cmd_forecast)

    sp = sub.add_parser("demo", help="everything on the shipped sample, into OUT")
    out(sp)
    sp.add_argument("--warehouse", default=None, help="default OUT/warehouse.duckdb (recreated)")
    sp.set_defaults(func=cmd_demo)

    sub.add_parser("sample", help="generate a push batch (see retire-prep sample --help)", add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sample":
        return _guard(lambda: cmd_sample(argv[1:]))
    parser = build_parser()
    a = parser.parse_args(argv)
    _setup_logging(a.verbose)
    return _guard(lambda: a.func(a), verbose=a.verbose, warehouse=getattr(a, "warehouse", None))


def _refuse(msg: str) -> None:
    from .validate import scrub  # one line, anything shaped like an ID or mobile number masked

    print(f"retire-prep: {scrub(msg)}", file=sys.stderr)


_DUCKDB_FILE = re.compile(r'file "([^"]+)"')
_NO_SPACE = ("No space left on device", "Disk quota exceeded")
_READ_ONLY = ("Read-only file system",)
_NO_WRITE = ("Permission denied",)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised over (``__cause__`` / ``__context__``), newest first."""
    out, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def environment_fault(exc: BaseException, warehouse: str | None = None) -> str | None:
    """One line for a fault of the machine (disk full, read-only, not writable) found anywhere in
    the chain of ``exc``, with its cause and its fix, or None.

    Searched through the whole chain: a ROLLBACK or the record of a failed attempt after a failed
    COMMIT may raise over "No space left on device" (issue 14 item 8).  DuckDB's messages are
    matched, never shown (they can quote values): only the file name is taken from them.
    """
    import errno

    import duckdb

    import os

    again = "then run the same command again (what failed was not kept; nothing before it is lost)"
    chain = _chain(exc)
    for e in reversed(chain):  # the oldest first: the cause, not what it set off
        if isinstance(e, OSError) and e.errno is not None:
            # pyarrow's writers give no file name; the pipeline re-raises with it (tabular._named)
            where = e.filename or next(
                (x.filename for x in chain if isinstance(x, OSError) and x.filename and x.errno == e.errno), "a file"
            )
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                return f"no space left on the disk of {where} ({os.strerror(e.errno)}): free space there, {again}"
            if e.errno == errno.EROFS:
                return (
                    f"{where} is on a read-only file system: remount it read-write or choose a folder "
                    f"on a writable disk, {again}"
                )
        if isinstance(e, duckdb.Error):
            msg = str(e)
            m = _DUCKDB_FILE.search(msg)
            where = m.group(1) if m else (warehouse or "the warehouse")
            if any(s in msg for s in _NO_SPACE):
                return f"no space left on the disk of {where} (No space left on device): free space there, {again}"
            what = "the warehouse " if not m or (warehouse and where.startswith(str(warehouse))) else ""
            if any(s in msg for s in _READ_ONLY):
                return (
                    f"{what}{where} is on a read-only file system: this command writes to it; "
                    f"remount the disk read-write, or copy the warehouse to a writable disk and pass "
                    f"--warehouse"
                )
            if any(s in msg for s in _NO_WRITE) and isinstance(e, duckdb.IOException):
                return (
                    f"{what}{where} cannot be opened (permission denied): give this user read and "
                    f"write access to the file and its folder"
                )
    return None


def _guard(fn, verbose: bool = False, warehouse: str | None = None) -> int:
    import duckdb

    try:
        return fn()
    except RetirePrepError as exc:
        _refuse(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _refuse("interrupted")
        return 130
    except Exception as exc:
        if verbose:
            raise
        fault = environment_fault(exc, warehouse)
        if fault:
            _refuse(fault)
            return 2
        if isinstance(exc, OSError):  # a file or folder that is missing, unreadable or in the way
            reason = exc.strerror or type(exc).__name__
            _refuse(f"{reason}: {exc.filename}" if exc.filename else reason)
            return 2
        if isinstance(exc, duckdb.OutOfMemoryException):  # DuckDB's limit reached even spilling
            _refuse(
                "DuckDB ran out of memory (duckdb_memory_limit in the settings file); the step was rolled "
                "back: raise the limit or set duckdb_threads lower, and run the command again"
            )
            return 2
        if isinstance(exc, duckdb.IOException):  # not a DuckDB file, or held by another process
            held = "lock" in str(exc).lower()
            _refuse(
                "the warehouse is in use by another process: try again when it has finished"
                if held
                else "the warehouse cannot be opened (is it a DuckDB file?)"
            )
            return 2
        # a bug: its type only (DuckDB messages can carry key values)
        _refuse(f"internal error ({type(exc).__name__}); rerun with -v for the traceback")
        return 1


if __name__ == "__main__":
    sys.exit(main())
