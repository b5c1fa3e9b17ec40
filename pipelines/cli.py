"""``retire-prep``: the command line (outputs.md "Command line").

Every command calls the same ``pipelines`` functions as the Airflow DAGs.
Refused input ends with a one-line reason on stderr and a non-zero exit;
progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
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
    print(f"retire-prep: {msg}", file=sys.stderr, flush=True)


def cmd_ingest(a) -> int:
    from .ingest import ingest_batches

    _progress(f"ingesting {len(a.batch_dirs)} batch folder(s) into {a.warehouse}")
    report = ingest_batches(a.batch_dirs, a.warehouse)
    for line in report.lines():
        print(line)
    if report.refused:
        print(f"retire-prep: refused: {report.refused[0]}", file=sys.stderr)
        return 2
    return 0


def cmd_applications(a) -> int:
    from .ingest import load_applications

    print(json.dumps(load_applications(a.files, a.warehouse), ensure_ascii=False))
    return 0


def cmd_run(a) -> int:
    from .ingest import load_applications
    from .monthly import run_month

    if a.applications:
        load_applications(a.applications, a.warehouse)
    _progress(f"monthly run {a.month}: screen → ledger → notices → outputs")
    report = run_month(a.month, a.warehouse, a.out, replay=a.replay)
    for line in report.lines():
        print(line)
    return 0


def cmd_declare(a) -> int:
    from .declare import declare_month

    _progress(f"month-start declaration screening {a.month}")
    report = declare_month(a.month, a.warehouse, a.out, replay=a.replay)
    for line in report.lines():
        print(line)
    return 0


def cmd_feedback(a) -> int:
    from .feedback import FeedbackFileRefused, apply_feedback_files

    try:
        report = apply_feedback_files([Path(f) for f in a.files], a.warehouse)
    except FeedbackFileRefused as exc:
        for line in exc.report.lines():
            print(line)
        raise
    for line in report.lines():
        print(line)
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

    print(explain_person(a.id_no, a.month, a.warehouse))
    return 0


def cmd_sample(argv: list[str]) -> int:
    from .sample import cli_sample

    return cli_sample(argv)


def cmd_demo(a) -> int:
    from .demo import run_demo

    return run_demo(Path(a.out), Path(a.warehouse) if a.warehouse else None)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="retire-prep", description="Ningxia pension retirement pre-service pipeline")
    p.add_argument("-v", "--verbose", action="store_true", help="log every step")
    sub = p.add_subparsers(dest="command", required=True)

    def wh(sp):
        sp.add_argument("--warehouse", default=DEFAULT_WAREHOUSE, help="DuckDB file (default ./warehouse.duckdb)")

    sp = sub.add_parser("ingest", help="verify and apply push batches in seq order")
    sp.add_argument("batch_dirs", nargs="+", metavar="BATCH_DIR")
    wh(sp)
    sp.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("applications", help="load pre-service applications (trigger 2)")
    sp.add_argument("files", nargs="+", metavar="FILE")
    wh(sp)
    sp.set_defaults(func=cmd_applications)

    sp = sub.add_parser("run", help="the monthly pre-service run for month P")
    sp.add_argument("--month", required=True, metavar="YYYY-MM")
    wh(sp)
    sp.add_argument("--out", default=DEFAULT_OUT)
    sp.add_argument("--applications", nargs="*", metavar="FILE", help="applications files to load first")
    sp.add_argument("--replay", action="store_true", help="re-emit a month before the last one run, as it was")
    sp.set_defaults(func=cmd_run)

    sp = sub.add_parser("declare", help="month-start declaration screening for month P")
    sp.add_argument("--month", required=True, metavar="YYYY-MM")
    wh(sp)
    sp.add_argument("--out", default=DEFAULT_OUT)
    sp.add_argument("--replay", action="store_true", help="re-write a month before the last one declared, as it was")
    sp.set_defaults(func=cmd_declare)

    sp = sub.add_parser("feedback", help="apply county feedback files")
    sp.add_argument("files", nargs="+", metavar="FILE")
    wh(sp)
    sp.set_defaults(func=cmd_feedback)

    sp = sub.add_parser("policy", help="retirement ages and months for one birth month (JSON)")
    sp.add_argument("--gender", required=True, type=int, choices=(1, 2))
    sp.add_argument("--person-type", type=int, choices=(1, 2, 3), default=None)
    sp.add_argument("--insurance-type", type=int, choices=(110, 170), default=110)
    sp.add_argument("--birth", required=True, metavar="YYYY-MM")
    sp.add_argument("--month", default=None, metavar="YYYY-MM")
    sp.set_defaults(func=cmd_policy)

    sp = sub.add_parser("explain", help="every decision about one person in month P, with its rule")
    sp.add_argument("id_no")
    sp.add_argument("--month", required=True, metavar="YYYY-MM")
    wh(sp)
    sp.set_defaults(func=cmd_explain)

    sp = sub.add_parser("demo", help="everything on the shipped sample, into OUT")
    sp.add_argument("--out", default=DEFAULT_OUT)
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
    return _guard(lambda: a.func(a))


def _guard(fn) -> int:
    try:
        return fn()
    except RetirePrepError as exc:
        print(f"retire-prep: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("retire-prep: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
