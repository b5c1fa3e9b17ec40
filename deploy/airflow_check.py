"""``make airflow-check``: the three DAGs on the sample through the real Airflow services.

On this machine, loopback only: a private PostgreSQL cluster (Debian's ``postgresql``, unix
socket in a temporary folder, no TCP) as the metadata database; ``deploy/airflow-local.sh``
starts the API server (127.0.0.1, a free port), scheduler (LocalExecutor, one worker per
core), DAG processor and triggerer. Then, as the information division's month would go:

1. the November push is copied into the inbox **slowly** (manifest first, files partial):
   the ``push_arrival`` sensor must not fire; once the files are complete it fires and the
   asset event starts ``pre_service_monthly`` for 2026-11;
2. the fallback schedule "fires" too (a run with the cron's logical date): it must be a
   no-op (``month_due`` skips it, no file changes, one run of the month recorded);
3. ``feedback_intake`` on the sample's feedback, ``declaration_month_start`` for 2026-12,
   then the December INCR arrives and starts the monthly run of 2026-12;
4. every output file is compared with the CLI's (the same steps on a warehouse of its
   own), byte for byte; everything started is stopped and checked gone (exit 1 otherwise).

Prints how long each part took and where the monthly DAG's time goes (task durations from
the metadata database); ``--json FILE`` writes those figures.  Run as root, PostgreSQL runs
as the ``postgres`` user (``runuser``); as another user, as that user.
"""

from __future__ import annotations

import csv
import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SAMPLE = ROOT / "data" / "sample"
LOCAL = ROOT / "deploy" / "airflow-local.sh"
DAGS = ("pre_service_monthly", "declaration_month_start", "feedback_intake", "push_arrival")
# seconds between the sensor's looks in the check (production: 600). Not less: a reschedule due before
# the executor has reported the previous look (seconds on a busy machine) races in Airflow 3.3 — the
# scheduler queues the next look, then reads the late "success" of the last one and marks the sensor
# up_for_retry (seen on this machine with 5 s)
POKE = 20
TIMINGS: list[tuple[str, float]] = []


class CheckFailed(Exception):
    pass


@contextlib.contextmanager
def part(name: str):
    t0 = time.monotonic()
    print(f"== {name}", flush=True)
    try:
        yield
    finally:
        dt = time.monotonic() - t0
        TIMINGS.append((name, round(dt, 1)))
        print(f"   {name}: {dt:.1f} s", flush=True)


def sh(cmd, env=None, check=True, quiet=False, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise CheckFailed(
            f"{' '.join(map(str, cmd))} -> exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    if not quiet and proc.stdout.strip():
        print("   " + proc.stdout.strip().replace("\n", "\n   ")[-2000:], flush=True)
    return proc


# ------------------------------------------------------------------ PostgreSQL, private cluster


class Postgres:
    """initdb + pg_ctl in a temporary folder; unix socket only (listen_addresses = '')."""

    def __init__(self):
        found = sorted(
            Path("/usr/lib/postgresql").glob("*/bin/initdb"),
            key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
        )
        if not found:
            raise CheckFailed(
                "PostgreSQL is not installed: /usr/lib/postgresql/*/bin/initdb is missing "
                "(Debian: apt-get install postgresql)"
            )
        self.bin = found[-1].parent
        self.dir = Path(tempfile.mkdtemp(prefix="rp-pg-"))
        self.data, self.started = self.dir / "data", False
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            import pwd

            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise CheckFailed("running as root, and there is no 'postgres' user to run PostgreSQL as") from None
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        os.chmod(self.dir, 0o700)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@/airflow?host={self.dir}"

    def start(self) -> None:
        sh(
            [
                *self.as_user,
                self.bin / "initdb",
                "-D",
                self.data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            quiet=True,
        )
        opts = (
            f"-c listen_addresses='' -c unix_socket_directories='{self.dir}' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        sh(
            [
                *self.as_user,
                self.bin / "pg_ctl",
                "-D",
                self.data,
                "-l",
                self.dir / "server.log",
                "-w",
                "-o",
                opts,
                "start",
            ],
            quiet=True,
        )
        self.started = True
        sh([*self.as_user, self.bin / "createdb", "-h", self.dir, "-U", "postgres", "airflow"], quiet=True)

    def stop(self) -> None:
        if self.started:
            sh(
                [*self.as_user, self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"],
                check=False,
                quiet=True,
            )
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql: str, *params):
        import psycopg

        with psycopg.connect(host=str(self.dir), user="postgres", dbname="airflow") as con:
            return con.execute(sql, params).fetchall()


# ------------------------------------------------------------------ helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sessions(home: Path) -> set[int]:
    """The session ids deploy/airflow-local.sh recorded."""
    return {int(f.read_text().strip()) for f in (home / "run").glob("*.sid") if f.read_text().strip().isdigit()}


def session_pids(sids: set[int]) -> list[int]:
    """Live processes of the sessions ``sids`` (zombies have ended)."""
    import psutil

    found = []
    for p in psutil.process_iter(["status"]):
        try:
            if os.getsid(p.pid) in sids and p.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(p.pid)
        except (ProcessLookupError, PermissionError):
            continue
    return found


def listening_sockets(pids: list[int]) -> list[str]:
    """``address:port pid`` of every listening TCP socket of ``pids``."""
    import psutil

    return sorted(
        {
            f"{c.laddr.ip}:{c.laddr.port} {c.pid}"
            for c in psutil.net_connections("inet")
            if c.status == psutil.CONN_LISTEN and c.pid in set(pids)
        }
    )


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        f.relative_to(root).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file()
    }


def month_runs(warehouse: Path, month_mi: int) -> int:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "SELECT count(*) FROM month_runs WHERE command = 'run' AND month_mi = ?", [month_mi]
        ).fetchone()[0]
    finally:
        con.close()


def copy_slowly(src: Path, dst: Path, pg: Postgres) -> None:
    """Manifest first, then half of each file; the sensor looks several times; then the rest."""
    dst.mkdir(parents=True)
    shutil.copy2(src / "manifest.json", dst / "manifest.json")
    files = sorted(p for p in src.iterdir() if p.name != "manifest.json")
    for f in files:
        data = f.read_bytes()
        (dst / f.name).write_bytes(data[: len(data) // 2])
    # wait until the sensor has looked at the half-copied batch twice (each look is a task start:
    # seconds on a busy machine), then no monthly run may have started
    looks_before, t0, looks = _looks(pg), time.monotonic(), 0
    while looks < 2:
        if time.monotonic() - t0 > 300:
            raise CheckFailed(f"the push sensor looked only {looks} times in 300 s")
        time.sleep(POKE)
        looks = _looks(pg) - looks_before
    runs = pg.query("SELECT count(*) FROM dag_run WHERE dag_id = 'pre_service_monthly'")[0][0]
    print(
        f"   batch half copied: the sensor looked {looks} times in {time.monotonic() - t0:.0f} s, "
        f"monthly runs started: {runs}",
        flush=True,
    )
    if runs:
        raise CheckFailed("a monthly run started while the batch was still being copied")
    for f in files:
        with open(dst / f.name, "ab") as fh:
            data = f.read_bytes()
            fh.write(data[len(data) // 2 :])


def _looks(pg: Postgres) -> int:
    """How often the push sensor has looked and found nothing (its reschedules); fails on a sensor failure."""
    bad = pg.query(
        "SELECT run_id, state FROM task_instance WHERE dag_id = 'push_arrival' "
        "AND state IN ('failed', 'up_for_retry', 'upstream_failed')"
    )
    if bad:
        raise CheckFailed(f"the push sensor failed: {bad}")
    return pg.query("SELECT count(*) FROM task_reschedule")[0][0]


def wait_run(pg: Postgres, dag_id: str, known: set[str], timeout: int = 900) -> dict:
    """Wait for a new run of ``dag_id`` (not in ``known``) to end; returns it."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        rows = pg.query(
            "SELECT run_id, state, run_type, start_date, end_date FROM dag_run WHERE dag_id = %s ORDER BY id", dag_id
        )
        new = [r for r in rows if r[0] not in known]
        if new and new[0][1] in ("success", "failed"):
            run_id, state, run_type, start, end = new[0]
            known.add(run_id)
            tis = pg.query(
                "SELECT task_id, map_index, state, try_number, duration, queued_dttm, start_date, "
                "end_date FROM task_instance WHERE dag_id = %s AND run_id = %s",
                dag_id,
                run_id,
            )
            if state != "success":
                bad = [(t[0], t[1], t[2]) for t in tis if t[2] not in ("success", "skipped")]
                raise CheckFailed(f"{dag_id} run {run_id} ended {state}: {bad}")
            return dict(run_id=run_id, run_type=run_type, seconds=(end - start).total_seconds(), tis=tis)
        time.sleep(2)
    raise CheckFailed(f"no run of {dag_id} ended within {timeout} s")


def task_profile(run: dict) -> dict:
    """Where a monthly run's time went: per task (office tasks together), and the gaps."""
    by: dict[str, list] = {}
    for task_id, _mi, state, _try, dur, queued, start, end in run["tis"]:
        if state == "success" and dur is not None:
            by.setdefault(task_id, []).append((dur, (start - queued).total_seconds() if queued else 0.0))
    prof = {
        k: dict(
            n=len(v),
            seconds=round(sum(d for d, _ in v), 1),
            max=round(max(d for d, _ in v), 1),
            queued=round(sum(q for _, q in v), 1),
        )
        for k, v in by.items()
    }
    return dict(
        wall=round(run["seconds"], 1), task_seconds=round(sum(p["seconds"] for p in prof.values()), 1), tasks=prof
    )


# ------------------------------------------------------------------ the check


def cli_reference(tmp: Path, env: dict) -> Path:
    cli = BIN / "retire-prep"
    wh, out = tmp / "warehouse.duckdb", tmp / "out"
    apps = sorted((SAMPLE / "applications").glob("*.csv"))
    feedback = sorted((SAMPLE / "feedback").glob("*.csv"))
    steps = [
        ["ingest", SAMPLE / "push" / "2026-11-full"],
        ["applications", *apps],
        ["run", "--month", "2026-11"],
        ["feedback", *feedback],
        ["declare", "--month", "2026-12"],
        ["ingest", SAMPLE / "push" / "2026-12-incr"],
        ["run", "--month", "2026-12"],
    ]
    for step in steps:
        if step[0] == "feedback" and not feedback:
            continue
        extra = ["--out", out] if step[0] in ("run", "declare", "feedback") else []  # feedback: its receipts
        sh([cli, *step, "--warehouse", wh, *extra], env=env, quiet=True)
    return out


def check(args) -> None:
    # One piece (issue 15): one production installation brought up, driven and torn down in the
    # order an operator does it; the servers it starts are stopped by its own `finally`, which a
    # split would have to hand between functions.
    tmp = Path(tempfile.mkdtemp(prefix="rp-airflow-check-"))
    pg = Postgres()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RETIRE_PREP_"))}
    af = tmp / "airflow"
    env = dict(
        base_env,
        AIRFLOW_HOME=str(af / "home"),
        AIRFLOW_PORT=str(free_port()),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=pg.url,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=pg.url,
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        RETIRE_PREP_BIN=str(BIN),
        RETIRE_PREP_TIME_SCHEDULES="off",
        RETIRE_PREP_PUSH_POKE_SECONDS=str(POKE),
        RETIRE_PREP_WAREHOUSE=str(af / "warehouse.duckdb"),
        RETIRE_PREP_OUT=str(af / "out"),
        RETIRE_PREP_PUSH_INBOX=str(af / "inbox" / "push"),
        RETIRE_PREP_FEEDBACK_INBOX=str(af / "inbox" / "feedback"),
    )
    airflow = [BIN / "airflow"]
    started = False
    result: dict = {}
    try:
        with part("CLI reference (ingest, run 2026-11, feedback, declare 2026-12, ingest, run 2026-12)"):
            cli_out = cli_reference(tmp / "cli", base_env)
        with part("PostgreSQL: initdb and start (unix socket only)"):
            pg.start()
        with part("airflow db migrate + pool"):
            sh([*airflow, "db", "migrate"], env=env, quiet=True)
            sh(
                [*airflow, "pools", "set", "retire_prep_warehouse", "1", "retire-prep: DuckDB has one writer"],
                env=env,
                quiet=True,
            )
        with part("services start (deploy/airflow-local.sh start)"):
            started = True
            sh(["bash", LOCAL, "start"], env=env)
            pids = session_pids(sessions(Path(env["AIRFLOW_HOME"])))
            listening = listening_sockets(pids)
            print(f"   {len(pids)} processes; listening: " + "; ".join(listening), flush=True)
            wide = [line for line in listening if not line.startswith("127.0.0.1:")]
            if wide or not listening:
                raise CheckFailed(f"an Airflow process listens beyond 127.0.0.1: {wide or 'nothing listens'}")
        with part("DAGs parsed"):
            t0 = time.monotonic()
            while True:
                dags = {r[0] for r in pg.query("SELECT dag_id FROM dag WHERE NOT is_stale")}
                errors = pg.query("SELECT filename, stacktrace FROM import_error")
                if errors:
                    raise CheckFailed(f"DAG import errors: {errors}")
                if set(DAGS) <= dags:
                    break
                if time.monotonic() - t0 > 300:
                    raise CheckFailed(f"DAGs not parsed within 300 s: {sorted(dags)}")
                time.sleep(2)
        known: dict[str, set] = {d: set() for d in DAGS}
        inbox = af / "inbox" / "push"
        (inbox / "applications").mkdir(parents=True)
        for f in sorted((SAMPLE / "applications").glob("*.csv")):
            shutil.copy2(f, inbox / "applications" / f.name)
        with part("November push copied slowly: no run until complete"):
            copy_slowly(SAMPLE / "push" / "2026-11-full", inbox / "2026-11-full", pg)
        with part("pre_service_monthly 2026-11, started by the arrival"):
            nov = wait_run(pg, "pre_service_monthly", known["pre_service_monthly"])
            if nov["run_type"] != "asset_triggered":
                raise CheckFailed(f"the November run was {nov['run_type']}, not started by the push")
        nov_files = tree_hashes(af / "out" / "2026-11")
        with part("fallback schedule fires too (logical date 2026-11-15T18:00Z): a no-op"):
            sh(
                [*airflow, "dags", "trigger", "pre_service_monthly", "--logical-date", "2026-11-15T18:00:00+00:00"],
                env=env,
                quiet=True,
            )
            again = wait_run(pg, "pre_service_monthly", known["pre_service_monthly"])
            ran = sorted({t[0] for t in again["tis"] if t[2] == "success"})
            if (
                "begin" in ran
                or tree_hashes(af / "out" / "2026-11") != nov_files
                or month_runs(af / "warehouse.duckdb", 2026 * 12 + 10) != 1
            ):
                raise CheckFailed(f"the second firing ran the month again (tasks run: {ran})")
            print(f"   tasks run: {ran}; the rest skipped, files unchanged, one run of 2026-11", flush=True)
        fb = sorted((SAMPLE / "feedback").glob("*.csv"))
        if fb:
            with part("feedback_intake"):
                for f in fb:  # each office's files in its own inbox folder (issue 14: bound to the sender)
                    with open(f, encoding="utf-8-sig", newline="") as fh:
                        office = next(csv.DictReader(fh))["office_code"]
                    (af / "inbox" / "feedback" / office).mkdir(parents=True, exist_ok=True)
                    shutil.copy2(f, af / "inbox" / "feedback" / office / f.name)
                sh([*airflow, "dags", "trigger", "feedback_intake"], env=env, quiet=True)
                wait_run(pg, "feedback_intake", known["feedback_intake"])
        with part("declaration_month_start 2026-12"):
            sh(
                [*airflow, "dags", "trigger", "declaration_month_start", "-c", '{"month": "2026-12"}'],
                env=env,
                quiet=True,
            )
            wait_run(pg, "declaration_month_start", known["declaration_month_start"])
        with part("December INCR arrives (moved in whole): pre_service_monthly 2026-12"):
            staging = tmp / "staging" / "2026-12-incr"
            shutil.copytree(SAMPLE / "push" / "2026-12-incr", staging)
            os.rename(staging, inbox / "2026-12-incr")
            dec = wait_run(pg, "pre_service_monthly", known["pre_service_monthly"])
            if dec["run_type"] != "asset_triggered":
                raise CheckFailed(f"the December run was {dec['run_type']}, not started by the push")
        with part("outputs compared with the CLI's, byte for byte"):
            want, got = tree_hashes(cli_out), tree_hashes(af / "out")
            missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
            # the offices' receipts (feedback/<office>/*.回执.xlsx) show when the file was processed:
            # compared by name only
            differ = sorted(k for k in set(want) & set(got) if want[k] != got[k] and not k.startswith("feedback/"))
            print(
                f"   {len(want)} files of the CLI, {len(got)} of Airflow; missing {len(missing)}, extra "
                f"{len(extra)}, different {len(differ)}",
                flush=True,
            )
            if missing or extra or differ:
                raise CheckFailed(
                    f"outputs differ: missing {missing[:10]}, extra {extra[:10]}, different {differ[:10]}"
                )
        result = dict(nov=task_profile(nov), dec=task_profile(dec))
    finally:
        with part("stop: services, PostgreSQL"):
            if started:
                sids = sessions(Path(env["AIRFLOW_HOME"]))
                stopped = sh(["bash", LOCAL, "stop"], env=env, check=False)
                left = session_pids(sids)
                print(f"   sessions {sorted(sids)}: {len(left)} processes left", flush=True)
                if stopped.returncode != 0 or left:
                    raise CheckFailed(f"Airflow did not stop: {stopped.stderr} (left: {left})")
            pg.stop()
            if args.keep:
                print(f"   kept {tmp}", flush=True)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    print(
        "\nwhere the monthly DAG's time goes (seconds; task = Airflow's duration of the task, "
        "queued = waiting for a slot):"
    )
    for name in ("nov", "dec"):
        p = result[name]
        print(f"  {name}: wall {p['wall']} s, sum of task durations {p['task_seconds']} s")
        for task_id, t in sorted(p["tasks"].items(), key=lambda kv: -kv[1]["seconds"]):
            print(
                f"    {task_id:<18} n={t['n']:<3} {t['seconds']:>7.1f} s (max {t['max']:.1f}, queued {t['queued']:.1f})"
            )
    result["parts"] = TIMINGS
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write the timings and the task profile to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, outputs)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    t0 = time.monotonic()
    try:
        check(args)
        ok = True
    except (CheckFailed, KeyboardInterrupt) as exc:
        print(f"\nairflow-check FAILED: {exc}", file=sys.stderr, flush=True)
        ok = False
    print("\ntime by part:")
    for name, dt in TIMINGS:
        print(f"  {dt:>7.1f} s  {name}")
    print(f"  {time.monotonic() - t0:>7.1f} s  total")
    print("airflow-check: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
