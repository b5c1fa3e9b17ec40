"""Benchmark of a whole month at production size (issues 4 and 19): every command, its time and peak RSS.

For each size (``--persons 1000000`` or ``--persons 1000000,5000000``), on files generated for it:

  bare          DuckDB read_csv of persons.csv and segments.csv into tables (the floor);
  ingest FULL   `retire-prep ingest` of a FULL (2026-11);
  applications  `retire-prep applications` (0.5 % of the persons);
  run FULL      `retire-prep run --month 2026-11`;
  feedback      `retire-prep feedback` (ARCHIVE_REVIEWED rows for 0.5 % of the persons, one file per office);
  declare       `retire-prep declare --month 2026-12`;
  ingest INCR   `retire-prep ingest` of an INCR with 1 % of the persons changed (2026-12);
  run INCR      `retire-prep run --month 2026-12`;
  forecast      `retire-prep forecast --month 2026-12`, when the command exists.

Each step runs in its own process (bench/measure.py): wall time, peak RSS (the kernel's), and the
stage holding the peak (the child's RSS sampled every 0.1 s against its `-v` log lines).  The
machine (cores, memory, load before and after each step) and the figures are printed and appended
to docs/benchmarks.md ("Bench runs"), with the ratios of issue 19: FULL month / bare load,
INCR month / FULL month and, with two sizes, the largest FULL month / the smallest.

``--repeat N`` runs the sizes N times in rounds (1 M, 5 M, 1 M, 5 M, …: each round's sizes one after
the other, so a drift of the machine's speed within the hour touches both sides of a ratio) and
records, beside each round's tables, each ratio's median over the rounds: the measure proposed for
issue 19 items 2 and 4, whose targets sit inside this VM's run-to-run noise (docs/benchmarks.md,
seventeenth session).

    .venv/bin/python bench/run.py [--persons 1000000[,5000000]] [--repeat N] [--months-only] [--drop-month-files] [--keep] [--note TEXT] [--no-record]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import Measured, measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "run"
PY = sys.executable
BASE = [PY, "-m", "pipelines.cli"]
CLI = BASE + ["-v"]
GIB = 1024
TARGET_SIZE = 5_000_000  # issue 19 items 2 and 4 are stated at this size


BARE = """
import duckdb, sys
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE persons AS SELECT * FROM read_csv(?, header=true, all_varchar=true)", [sys.argv[2]])
con.execute("CREATE TABLE segments AS SELECT * FROM read_csv(?, header=true, all_varchar=true)", [sys.argv[3]])
con.close()
"""


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def machine() -> str:
    mem = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} cores (nproc), {mem:.1f} GiB memory, load {load()} (1, 5, 15 min)"


def has_command(name: str) -> bool:
    p = subprocess.run([PY, "-m", "pipelines.cli", name, "--help"], cwd=ROOT, capture_output=True, text=True)
    return p.returncode == 0


def write_feedback(wh: Path, folder: Path, rows: int, day: str = "2026-12-10") -> list[str]:
    """One feedback file per office: ARCHIVE_REVIEWED for ``rows`` open NOTIFIED entries (bench/feedback.py's)."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(wh), read_only=True)
    picked = con.execute(
        "SELECT office_code, id_no FROM ledger_entries WHERE closed_mi IS NULL AND stage = 'NOTIFIED' "
        "ORDER BY hash(entry_id) LIMIT ?",
        [rows],
    ).fetchall()
    con.close()
    files: dict[str, list] = {}
    for office, id_no in picked:
        files.setdefault(office, []).append(id_no)
    paths = []
    for office, ids in sorted(files.items()):
        path = folder / f"feedback-{office}.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["office_code", "event", "id_no", "event_date", "result"])
            w.writerows([office, "ARCHIVE_REVIEWED", i, day, "PASS"] for i in ids)
        paths.append(str(path))
    return paths


class Steps:
    def __init__(self, verbose: int = 0):
        self.verbose = verbose
        self.done: list[tuple[Measured, str, str]] = []  # (measured, load before, load after)

    def run(self, cmd: list[str], label: str) -> Measured:
        before = load()
        m = measure(cmd, label, cwd=ROOT)
        after = load()
        if m.returncode != 0:
            sys.exit(f"{label} failed ({m.returncode}):\n{m.stderr[-3000:]}")
        flag = "  ** over 2 GiB **" if m.rss_mib > 2 * GIB else ""
        print(
            f"  {label:<24} {m.secs:7.1f} s  cpu {m.cpu:7.1f} s  peak RSS {m.rss_mib:6.0f} MiB{flag}  "
            f"load {before} -> {after}\n"
            f"  {'':<24} peak in: {m.peak_at}",
            flush=True,
        )
        if self.verbose:  # the log lines of the step with the largest RSS sampled until the next one
            for ts, line, mib in m.stages:
                if mib >= self.verbose:
                    print(f"  {'':<24}   {ts:7.1f} s {mib:6d} MiB  {line}", flush=True)
        timing = [l.strip() for l in m.stdout.splitlines() if l.strip().startswith("time:")]
        if timing:
            print(f"  {'':<24} {timing[0]}", flush=True)
        self.done.append((m, before, after))
        return m

    def total(self, what: str, *labels: str) -> float:
        """The steps' ``secs`` (wall) or ``cpu`` summed over ``labels``."""
        return sum(getattr(m, what) for m, _, _ in self.done if m.label in labels)


SEED = 7
BAD_ROWS = "0.001"


def generator_key() -> str:
    """What the generated files depend on besides size and seed: the generator's source."""
    import hashlib

    h = hashlib.sha256()
    gen = ROOT / "pipelines" / "sample"  # a package (or, before, one module sample.py)
    for f in sorted(gen.rglob("*.py")) if gen.is_dir() else [gen.with_suffix(".py")]:
        h.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + f.read_bytes())
    h.update(f"{BAD_ROWS} 1% changes 0.5% applications".encode())
    return h.hexdigest()[:12]


def generate(persons: int, cache: Path | None) -> tuple[Path, Path, Path, str]:
    """The FULL (2026-11), the INCR of 1 % (2026-12) and the applications of ``persons`` persons.

    Generated once per (persons, seed, generator source) into ``cache`` and reused afterwards
    (generation is not what the bench measures: at 1 M it took longer than the month's own steps
    on a shared machine).  Written to a temporary folder and renamed, so a killed generation
    leaves nothing that looks complete.  ``cache`` None: generated into the run's work folder.
    """
    changes = max(1, persons // 100)
    if cache is not None:
        folder = cache / f"{persons}-seed{SEED}-{generator_key()}"
        if (folder / "complete").exists():
            return folder / "full", folder / "incr", folder / "applications-2026-11.csv", f"cached in {folder}"
        tmp = cache / f".{folder.name}.{os.getpid()}.tmp"
    else:
        folder = tmp = WORK / f"{persons}" / "push"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    print(
        f"   generating a FULL (2026-11), an INCR of {changes:,} changes (2026-12), applications into {folder}",
        flush=True,
    )
    full, incr = tmp / "full", tmp / "incr"
    sample = BASE + ["sample", "--seed", str(SEED)]
    subprocess.run(
        sample + ["--persons", str(persons), "--month", "2026-11", "--out", str(full), "--bad-rows", BAD_ROWS],
        cwd=ROOT,
        check=True,
    )
    subprocess.run(
        sample + ["--month", "2026-12", "--out", str(incr), "--incr-from", str(full), "--changes", str(changes)],
        cwd=ROOT,
        check=True,
    )
    subprocess.run(
        [
            PY,
            "-c",
            "import sys; from pipelines.sample import write_applications as w\n"
            "w(sys.argv[1], sys.argv[2], '2026-11', seed=int(sys.argv[4]), n=int(sys.argv[3]))",
            str(tmp / "applications-2026-11.csv"),
            str(full),
            str(max(100, persons // 200)),
            str(SEED),
        ],
        cwd=ROOT,
        check=True,
    )
    how = f"generated in {time.perf_counter() - t0:.0f} s"
    if cache is not None:
        (tmp / "complete").write_text(how + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    return folder / "full", folder / "incr", folder / "applications-2026-11.csv", how


def bench_size(persons: int, a, forecast: bool) -> dict:
    work = WORK / f"{persons}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"\n== {persons:,} persons", flush=True)
    full, incr, apps, how = generate(persons, None if a.no_cache else Path(a.cache))
    print(f"   push {how}; timings (each step its own process):", flush=True)

    s = Steps(a.stages)
    wh, out = work / "w.duckdb", work / "out"
    s.run(
        [PY, "-c", BARE, str(work / "bare.duckdb"), str(full / "persons.csv"), str(full / "segments.csv")],
        "bare read_csv",
    )
    (work / "bare.duckdb").unlink()
    s.run(CLI + ["ingest", str(full), "--warehouse", str(wh)], "ingest FULL")
    s.run(CLI + ["applications", str(apps), "--warehouse", str(wh)], "applications")
    s.run(CLI + ["run", "--month", "2026-11", "--warehouse", str(wh), "--out", str(out)], "run 2026-11 (FULL)")
    if a.drop_month_files:  # read by no later command; 21 GB at 25,000,000 persons
        shutil.rmtree(out / "2026-11", ignore_errors=True)
    if not a.months_only:
        fb = write_feedback(wh, work / "feedback", max(100, persons // 200))
        s.run(CLI + ["feedback", "--warehouse", str(wh), *fb], f"feedback ({len(fb)} files)")
        s.run(CLI + ["declare", "--month", "2026-12", "--warehouse", str(wh), "--out", str(out)], "declare 2026-12")
    s.run(CLI + ["ingest", str(incr), "--warehouse", str(wh)], "ingest INCR (1 %)")
    s.run(CLI + ["run", "--month", "2026-12", "--warehouse", str(wh), "--out", str(out)], "run 2026-12 (INCR)")
    if forecast and not a.months_only:
        s.run(CLI + ["forecast", "--month", "2026-12", "--warehouse", str(wh)], "forecast 2026-12")
    parts = {
        "bare": ("bare read_csv",),
        "full": ("ingest FULL", "run 2026-11 (FULL)"),
        "incr": ("ingest INCR (1 %)", "run 2026-12 (INCR)"),
    }
    bare, full_month, incr_month = (s.total("secs", *parts[k]) for k in ("bare", "full", "incr"))
    # the same in CPU seconds: on a virtual machine whose speed varies, the wall ratios and the CPU
    # ratios differ (docs/benchmarks.md, twelfth session); both are printed
    cpu = {k: s.total("cpu", *labels) for k, labels in parts.items()}
    res = dict(
        persons=persons,
        steps=s.done,
        bare=bare,
        full_month=full_month,
        incr_month=incr_month,
        month_cpu=cpu,
        peak=max(m.rss_mib for m, _, _ in s.done[1:]),
        wall=sum(m.secs for m, _, _ in s.done),
        cpu=sum(m.cpu for m, _, _ in s.done),
        cores=os.cpu_count() or 1,
        push=how,
    )
    print(
        f"   FULL month (ingest + run) {full_month:.1f} s = {full_month / bare:.1f}x the bare load; "
        f"INCR month {incr_month:.1f} s = {incr_month / full_month:.0%} of the FULL month "
        f"(CPU: {cpu['full'] / cpu['bare']:.1f}x, {cpu['incr'] / cpu['full']:.0%}); "
        f"largest peak RSS {res['peak']:,.0f} MiB; all steps {res['wall']:.0f} s wall, {res['cpu']:.0f} CPU s",
        flush=True,
    )
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return res


def record(results: list[dict], a, started: str, host: str, round_no: int = 0) -> str:
    """The recorded text of one round (``round_no`` > 1: its tables only, under a line naming it)."""
    if round_no > 1:
        lines = [f"**Round {round_no} of {a.repeat}**", ""]
    else:
        lines = [
            f"### {started} — {', '.join(format(r['persons'], ',') for r in results)} persons"
            + (f" — {a.note}" if a.note else ""),
            "",
            f"Machine: {host}. `bench/run.py --persons {a.persons}{' --months-only' if a.months_only else ''}"
            f"{' --drop-month-files' if a.drop_month_files else ''}{f' --repeat {a.repeat}' if a.repeat > 1 else ''}`;"
            " each step its own process; load = the 1-minute load average before → after the step (2 cores shared: "
            "wall times are noisy, peak RSS is not).",
            "",
        ] + ([f"**Round 1 of {a.repeat}**", ""] if round_no == 1 else [])
    for r in results:
        lines += [
            f"**{r['persons']:,} persons**",
            "",
            "| step | s | CPU s | peak RSS MiB | peak in (last log line before it) | load |",
            "|---|---:|---:|---:|---|---|",
        ]
        for m, before, after in r["steps"]:
            lines.append(
                f"| {m.label} | {m.secs:.1f} | {m.cpu:.1f} | {m.rss_mib:,.0f} | {m.peak_at.replace('|', '/')} | "
                f"{before.split()[0]} → {after.split()[0]} |"
            )
        lines += [
            "",
            f"FULL month (ingest + run) **{r['full_month']:.1f} s = {r['full_month'] / r['bare']:.1f}×** "
            f"the bare load; INCR month **{r['incr_month']:.1f} s = {r['incr_month'] / r['full_month']:.0%}**"
            f" of the FULL month (in CPU s: {r['month_cpu']['full'] / r['month_cpu']['bare']:.1f}× and "
            f"{r['month_cpu']['incr'] / r['month_cpu']['full']:.0%}); largest peak RSS **{r['peak']:,.0f} MiB**. "
            f"All steps: {r['wall']:.0f} s wall, "
            f"{r['cpu']:.0f} CPU s ({r['cores']} cores: on an idle machine between {r['cpu'] / r['cores']:.0f} and "
            f"{r['cpu']:.0f} s){'; push ' + r['push'] if r.get('push') else ''}.",
            "",
        ]
    lo = results[0]
    for hi in results[1:]:
        lines += [
            f"{hi['persons']:,} vs {lo['persons']:,} persons ({hi['persons'] / lo['persons']:.0f}× the persons): "
            f"FULL month **{hi['full_month'] / lo['full_month']:.2f}×**, INCR month "
            f"{hi['incr_month'] / lo['incr_month']:.2f}×, bare load {hi['bare'] / lo['bare']:.2f}×; in CPU s: "
            f"FULL month {hi['month_cpu']['full'] / lo['month_cpu']['full']:.2f}×, INCR month "
            f"{hi['month_cpu']['incr'] / lo['month_cpu']['incr']:.2f}×, bare load "
            f"{hi['month_cpu']['bare'] / lo['month_cpu']['bare']:.2f}×.",
            "",
        ]
    return "\n".join(lines)


def _target(results: list[dict]) -> dict:
    """The size issue 19's targets are stated at (5,000,000 persons), else the largest size run."""
    return next((r for r in results if r["persons"] == TARGET_SIZE), max(results, key=lambda r: r["persons"]))


def ratios(results: list[dict]) -> dict[str, float]:
    """The ratios of issue 19 in one round: at 5,000,000 persons (else the largest size) the FULL
    month over the bare load (item 2) and the INCR month over the FULL month (item 4), wall and CPU;
    with two sizes or more, that FULL month over the smallest size's (item 2's growth)."""
    hi, lo = _target(results), min(results, key=lambda r: r["persons"])
    out = {
        "FULL month / bare load": hi["full_month"] / hi["bare"],
        "FULL month / bare load, CPU s": hi["month_cpu"]["full"] / hi["month_cpu"]["bare"],
        "INCR month / FULL month": hi["incr_month"] / hi["full_month"],
        "INCR month / FULL month, CPU s": hi["month_cpu"]["incr"] / hi["month_cpu"]["full"],
    }
    if hi is not lo:
        out["FULL month growth"] = hi["full_month"] / lo["full_month"]
        out["FULL month growth, CPU s"] = hi["month_cpu"]["full"] / lo["month_cpu"]["full"]
    return out


def medians(rounds: list[list[dict]]) -> str:
    """Each ratio of :func:`ratios` over the rounds, its values and its median (the measure of
    issue 19 items 2 and 4), and the largest peak RSS over all rounds and sizes (item 1)."""
    import statistics

    per = [ratios(r) for r in rounds]
    sizes = " and ".join(format(n, ",") for n in sorted(r["persons"] for r in rounds[0]))
    at = _target(rounds[0])["persons"]
    lines = [
        f"**Over {len(rounds)} rounds** of {sizes} persons (each round's sizes one after the other), "
        f"at {at:,} persons:",
        "",
        "| ratio | rounds | median |",
        "|---|---|---:|",
    ]
    for name in per[0]:
        vals = [p[name] for p in per]
        fmt = (lambda v: f"{v:.0%}") if name.startswith("INCR") else (lambda v: f"{v:.2f}×")
        lines.append(f"| {name} | {', '.join(fmt(v) for v in vals)} | **{fmt(statistics.median(vals))}** |")
    peak = max(x["peak"] for r in rounds for x in r)
    lines += ["", f"Largest peak RSS over every round and size: **{peak:,.0f} MiB**.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", default="1000000", help="sizes, comma-separated (e.g. 1000000,5000000)")
    ap.add_argument("--keep", action="store_true", help="keep bench/work/run/<persons> afterwards")
    ap.add_argument("--no-record", action="store_true", help="print only; nothing appended to docs/benchmarks.md")
    ap.add_argument(
        "--stages",
        type=int,
        default=0,
        metavar="MIB",
        help="print each step's log lines whose sampled RSS reached MIB (where memory goes)",
    )
    ap.add_argument(
        "--months-only",
        action="store_true",
        help="the FULL month and the INCR month only (issue 19 item 3): no feedback, declare or forecast between",
    )
    ap.add_argument(
        "--drop-month-files",
        action="store_true",
        help="remove the FULL month's files once its run is measured (disk: 21 GB at 25,000,000 persons)",
    )
    ap.add_argument("--note", default="", help="said in the heading of the recorded run")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="N rounds of the sizes, one after the other; each ratio's median over the rounds recorded",
    )
    ap.add_argument(
        "--cache",
        default=str(ROOT / "bench" / "work" / "cache"),
        help="generated pushes kept here by size, seed and generator source, reused by later runs",
    )
    ap.add_argument("--no-cache", action="store_true", help="generate into the run's work folder, remove afterwards")
    a = ap.parse_args()
    sizes = [int(x.replace("_", "")) for x in a.persons.split(",")]
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    host = machine()
    print(f"machine: {host}", flush=True)
    forecast = has_command("forecast")
    rounds = []
    for k in range(max(1, a.repeat)):
        if a.repeat > 1:
            print(f"\n==== round {k + 1} of {a.repeat}", flush=True)
        rounds.append([bench_size(n, a, forecast) for n in sizes])
    text = record(rounds[0], a, started, host, 1 if a.repeat > 1 else 0)
    for k, results in enumerate(rounds[1:], start=2):
        text = text.rstrip("\n") + "\n\n" + record(results, a, started, host, k)
    if a.repeat > 1:
        text = text.rstrip("\n") + "\n\n" + medians(rounds)
    print("\n" + text)
    if not a.no_record:
        doc = ROOT / "docs" / "benchmarks.md"
        body = doc.read_text(encoding="utf-8").rstrip("\n")
        if "\n## Bench runs" not in body:
            body += (
                "\n\n## Bench runs (issue 19)\n\nAppended by `make bench` (1,000,000 persons) and "
                "`make bench-scale` (1, 5 and 25 million in one run, or the sizes of `SCALE=`), newest last."
            )
        doc.write_text(body + "\n\n" + text.rstrip("\n") + "\n", encoding="utf-8")
        print(f"appended to {doc.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
