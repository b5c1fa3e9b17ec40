"""Benchmark: `retire-prep ingest` of a 1,000,000-person FULL against a bare DuckDB load.

    .venv/bin/python bench/ingest.py [--persons N] [--work DIR] [--keep] [--profile] [--no-record]

1. generates a FULL of N persons with their segments (``pipelines.sample.generate_batch``;
   the plain writer of tests/support/pushkit.py if the project's generator is not there), and an
   INCR on top of it with 1 % of the persons changed;
2. times, each in its own subprocess (wall time, and peak RSS from ``os.wait4``):
   (a) ``retire-prep ingest FULL`` into a fresh warehouse (as an operator runs it: GX
       validation included),
   (b) the bare load: ``CREATE TABLE … AS SELECT * FROM read_csv(…)`` of the same two
       files into a fresh DuckDB file,
   (c) ``retire-prep ingest INCR`` on top of (a);
3. prints the figures and the ratio (a)/(b) (target ≤ 2×, peak RSS ≤ 2 GiB), and appends
   them with the date and the machine to ``docs/benchmarks.md`` (section "Ingest").

``--profile`` then runs the FULL and the INCR again in this process and times every SQL
statement and the Python phases (hashing, staging, GX validation, commit), to show where
the time goes.  Nothing of the generated data is kept unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
DOC = ROOT / "docs" / "benchmarks.md"
GIB = 1 << 30


# --------------------------------------------------------------------------- data


def generate(work: Path, persons: int, seed: int) -> tuple[Path, Path, str]:
    full, incr = work / "full", work / "incr"
    changes = max(1, persons // 100)
    try:
        from pipelines.sample import generate_batch
    except ImportError:
        generate_batch = None
    if generate_batch is not None:
        generate_batch(full, persons=persons, month="2026-11", seed=seed)
        generate_batch(incr, month="2026-12", seed=seed + 1, incr_from=full, changes=changes)
        return full, incr, "pipelines.sample.generate_batch"
    from pushkit import write_generated_batch

    write_generated_batch(full, persons, seq=1, month="2026-11")
    write_generated_batch(incr, persons, seq=2, push_type="INCR", base_seq=1, every=100, variant=1, month="2026-12")
    return full, incr, "tests/pushkit.write_generated_batch"


# --------------------------------------------------------------------------- measuring


def run_measured(cmd: list[str], label: str) -> dict:
    """Run ``cmd``: wall seconds and the peak RSS of exactly this child (``os.wait4``'s
    ru_maxrss, KiB on Linux; RUSAGE_CHILDREN would give the maximum over all children)."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env, cwd=ROOT)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read().decode(errors="replace"), fe.read().decode(errors="replace")
    if p.returncode != 0:
        sys.stderr.write(err)
        raise SystemExit(f"{label}: exit {p.returncode}")
    return {"label": label, "wall": wall, "rss": ru.ru_maxrss * 1024, "stdout": out}


def cli() -> list[str]:
    exe = ROOT / ".venv" / "bin" / "retire-prep"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "pipelines.cli"]


BARE = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE TABLE persons AS SELECT * FROM read_csv(?)", [sys.argv[2]])
    con.execute("CREATE TABLE segments AS SELECT * FROM read_csv(?)", [sys.argv[3]])
    n = con.execute("SELECT (SELECT count(*) FROM persons), (SELECT count(*) FROM segments)").fetchone()
    con.close()
    print(n)
""")


def data_file(batch: Path, kind: str) -> Path:
    for ext in ("csv", "parquet"):
        if (batch / f"{kind}.{ext}").exists():
            return batch / f"{kind}.{ext}"
    raise FileNotFoundError(batch / kind)


# --------------------------------------------------------------------------- profiling


def profile(full: Path, incr: Path, work: Path, top: int = 20) -> str:
    """Apply FULL then INCR in this process, timing each SQL statement and each Python phase."""
    # One piece (issue 15): the timing wrappers are closures over this call's table of timings,
    # installed and removed around the two ingests; split, the patching would outlive its run.
    import duckdb  # noqa: F401

    import pipelines.ingest as ing
    import pipelines.warehouse as whm

    timings: list[tuple[float, str]] = []

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                timings.append((time.perf_counter() - t, f"[python] {name}"))

        return wrapper

    class Proxy:
        def __init__(self, con):
            self._c = con

        def __getattr__(self, a):
            return getattr(self._c, a)

        def execute(self, sql, params=None):
            stmts = [sql] if params is not None else [s.query for s in self._c.extract_statements(sql)]
            res = None
            for q in stmts:
                t = time.perf_counter()
                res = self._c.execute(q) if params is None else self._c.execute(q, params)
                timings.append((time.perf_counter() - t, " ".join(q.split())[:110]))
            return res

    orig_connect = ing.connect

    @contextlib.contextmanager
    def connect(*a, **k):
        t = time.perf_counter()
        cm = orig_connect(*a, **k)
        con = cm.__enter__()
        timings.append((time.perf_counter() - t, "[python] connect (schema, macros, person_keys)"))
        try:
            yield Proxy(con)
        finally:
            t = time.perf_counter()
            cm.__exit__(None, None, None)
            timings.append((time.perf_counter() - t, "[python] close (checkpoint)"))

    patches = {"connect": connect, "read_manifest": timed("read_manifest (sha256 of the files)", ing.read_manifest)}
    if hasattr(ing, "_validate_batch"):
        patches["_validate_batch"] = timed("GX validation (raw + ingest suites)", ing._validate_batch)
    saved = {k: getattr(ing, k) for k in patches}
    for k, v in patches.items():
        setattr(ing, k, v)
    # the package's apply module calls _validate_batch itself (pipelines/ingest/apply.py)
    apply_mod = getattr(ing, "apply", None)
    saved_apply = {k: getattr(apply_mod, k) for k in patches if hasattr(apply_mod, k)}
    for k in saved_apply:
        setattr(apply_mod, k, patches[k])
    saved_refresh = whm.refresh_person_keys  # called by connect()
    whm.refresh_person_keys = timed("refresh_person_keys (at connect)", saved_refresh)
    out = []
    try:
        wh = work / "profile.duckdb"
        for label, batch in (("FULL", full), ("INCR 1 %", incr)):
            timings.clear()
            t = time.perf_counter()
            rep = ing.ingest_batches([batch], wh)
            total = time.perf_counter() - t
            assert rep.applied, rep.lines()
            sql_total = sum(d for d, q in timings if not q.startswith("[python]"))
            out.append(f"\n{label}: {total:.1f} s in all, of which {sql_total:.1f} s in SQL statements")
            for d, q in sorted(timings, reverse=True)[:top]:
                out.append(f"  {d:7.2f} s  {d / total:5.1%}  {q}")
    finally:
        for k, v in saved.items():
            setattr(ing, k, v)
        for k, v in saved_apply.items():
            setattr(apply_mod, k, v)
        whm.refresh_person_keys = saved_refresh
    return "\n".join(out)


# --------------------------------------------------------------------------- the record


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({cpu}), {ram:.0f} GiB RAM, load average before the run {load}"


def record(lines: list[str]) -> None:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    if "\n## Ingest\n" not in text:
        text = text.rstrip("\n") + "\n\n## Ingest\n\nFigures appended by `bench/ingest.py` (see bench/README.md).\n"
    # append at the end of the Ingest section
    head, _, rest = text.partition("\n## Ingest\n")
    nxt = rest.find("\n## ")
    section, tail = (rest, "") if nxt < 0 else (rest[:nxt], rest[nxt:])
    section = section.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    DOC.write_text(head + "\n## Ingest\n" + section + tail, encoding="utf-8")


def main(argv=None) -> int:
    # One piece (issue 15): a bench script read top to bottom — its options, the steps in the order
    # they run and the table printed — as docs/benchmarks.md shows them.
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20261101)
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the generated batches and warehouses")
    ap.add_argument("--profile", action="store_true", help="also time every SQL statement (in process)")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each step N times: the best wall time and the highest peak RSS are reported",
    )
    ap.add_argument("--no-record", action="store_true", help="do not append to docs/benchmarks.md")
    a = ap.parse_args(argv)

    where = machine()
    work = a.work or Path(tempfile.mkdtemp(prefix="retire-prep-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        full, incr, gen = generate(work, a.persons, a.seed)
        t_gen = time.perf_counter() - t
        p_file, s_file = data_file(full, "persons"), data_file(full, "segments")
        size = (p_file.stat().st_size + s_file.stat().st_size) / 2**20
        import json

        mf = json.loads((full / "manifest.json").read_text(encoding="utf-8"))
        mi = json.loads((incr / "manifest.json").read_text(encoding="utf-8"))
        rows = {k.split(".")[0]: v["rows"] for k, v in mf["files"].items()}
        irows = {k.split(".")[0]: v["rows"] for k, v in mi["files"].items()}
        print(
            f"generated with {gen} in {t_gen:.1f} s: {rows['persons']:,} persons, {rows['segments']:,} segments "
            f"({size:.0f} MiB); INCR {irows['persons']:,} persons, {irows['segments']:,} segments"
        )

        wh = work / "ingest.duckdb"
        base = work / "after-full.duckdb"
        bare = work / "bare.duckdb"

        def fresh(*files):
            for f in files:
                for g in f.parent.glob(f.name + "*"):
                    shutil.rmtree(g) if g.is_dir() else g.unlink()

        def best(runs):
            r = min(runs, key=lambda x: x["wall"])
            return dict(r, rss=max(x["rss"] for x in runs), walls=[x["wall"] for x in runs])

        ing, bar, inc = [], [], []
        for _ in range(max(1, a.repeat)):
            fresh(wh, bare)
            ing.append(run_measured(cli() + ["ingest", str(full), "--warehouse", str(wh)], "retire-prep ingest (FULL)"))
            bar.append(
                run_measured(
                    [sys.executable, "-c", BARE, str(bare), str(p_file), str(s_file)],
                    "bare DuckDB CREATE TABLE AS read_csv",
                )
            )
        shutil.copy(wh, base)
        for _ in range(max(1, a.repeat)):
            shutil.copy(base, wh)
            inc.append(
                run_measured(
                    cli() + ["ingest", str(incr), "--warehouse", str(wh)],
                    "retire-prep ingest (INCR 1 %) on top of the FULL",
                )
            )
        r_ing, r_bare, r_incr = best(ing), best(bar), best(inc)
        ratio = r_ing["wall"] / r_bare["wall"]
        wh_size = wh.stat().st_size / 2**20

        lines = [
            f"### {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %z')} — {rows['persons']:,} persons",
            "",
            f"Machine: {where}. Data: {gen}, {rows['persons']:,} persons + {rows['segments']:,} segments "
            f"({size:.0f} MiB of CSV); the INCR changes {irows['persons']:,} persons.",
            "",
            "| step | wall | peak RSS |",
            "|---|---:|---:|",
        ]
        for r in (r_ing, r_bare, r_incr):
            runs = "" if len(r["walls"]) == 1 else " (best of " + ", ".join(f"{w:.1f}" for w in r["walls"]) + ")"
            lines.append(f"| {r['label']} | {r['wall']:.1f} s{runs} | {r['rss'] / 2**20:,.0f} MiB |")
        verdict_t = "meets" if ratio <= 2 else "MISSES"
        verdict_m = "meets" if max(r_ing["rss"], r_incr["rss"]) <= 2 * GIB else "MISSES"
        lines += [
            "",
            f"Ratio ingest / bare load: **{ratio:.2f}×** ({verdict_t} the ≤ 2× target); peak RSS of ingest "
            f"{r_ing['rss'] / GIB:.2f} GiB ({verdict_m} the ≤ 2 GiB target). Warehouse after both: {wh_size:.0f} MiB. "
            f"Load average after the run: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}.",
        ]
        print("\n".join(lines))
        print("\n" + r_ing["stdout"].strip() + "\n" + r_incr["stdout"].strip())
        if a.profile:
            prof = profile(full, incr, work)
            print(prof)
            lines += [
                "",
                "Where the time goes (`--profile`, in process, each statement timed):",
                "",
                "```",
                prof.strip("\n"),
                "```",
            ]
        if not a.no_record:
            record(lines)
            print(f"\nappended to {DOC.relative_to(ROOT)}")
    finally:
        if not a.keep and a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
