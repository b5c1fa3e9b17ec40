"""Run one command in its own process and measure it: wall time, peak RSS, and where the peak is.

Shared by the bench scripts (issue 19).  The child's resident set is sampled every 0.1 s from
``/proc/<pid>/status``, its stderr lines (``retire-prep -v`` logs each stage) are time-stamped as
they come, and the peak is attributed to the last log line before it; the exact peak is the
kernel's (``os.wait4``'s ``ru_maxrss``: the child and every process it waited for).

    from measure import measure
    m = measure(["retire-prep", "-v", "run", ...], "run FULL")
    m.secs, m.rss_mib, m.peak_at, m.stdout
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Measured:
    label: str
    secs: float
    rss_mib: float  # the kernel's peak (ru_maxrss)
    peak_at: str  # the last stderr line before the sampled peak (the stage)
    stdout: str
    stderr: str
    returncode: int
    stages: list = field(default_factory=list)  # (seconds since start, log line, max RSS MiB until the next line)
    cpu: float = 0.0  # user + system CPU seconds of the child (os.wait4): its work, whatever the load


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _short(line: str) -> str:
    # "2026-12-06 05:00:00,123 INFO pipelines.monthly: 2026-11 screen …" -> "pipelines.monthly: 2026-11 screen …"
    parts = line.split(" ", 3)
    return parts[3][:90] if len(parts) == 4 and parts[2] in ("INFO", "WARNING", "DEBUG") else line[:90]


def measure(cmd: list[str], label: str, *, cwd=None, env=None, interval: float = 0.1) -> Measured:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[tuple[float, str]] = [(0.0, "(start)")]
    out: list[str] = []

    def read_err():
        for line in proc.stderr:
            lines.append((time.perf_counter() - t0, line.rstrip("\n")))

    def read_out():
        out.append(proc.stdout.read())

    threads = [threading.Thread(target=read_err, daemon=True), threading.Thread(target=read_out, daemon=True)]
    for t in threads:
        t.start()
    samples: list[tuple[float, int]] = []
    status = rusage = None
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        samples.append((time.perf_counter() - t0, _rss_kib(proc.pid)))
        time.sleep(interval)
    secs = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in threads:
        t.join()
    # the stages: each log line, and the largest sample until the next one
    stages = []
    for i, (ts, line) in enumerate(lines):
        end = lines[i + 1][0] if i + 1 < len(lines) else secs + 1
        inside = [k for (s, k) in samples if ts <= s < end]
        if not inside:  # a line with no sample before the next one: the last sample before it
            inside = [k for (s, k) in samples if s < ts][-1:]
        stages.append((round(ts, 1), _short(line), round(max(inside, default=0) / 1024)))
    peak_t = max(samples, key=lambda s: s[1], default=(0.0, 0))[0]
    at = [line for ts, line in lines if ts <= peak_t]
    return Measured(
        label=label,
        secs=secs,
        rss_mib=rusage.ru_maxrss / 1024,
        peak_at=_short(at[-1]) if at else "",
        stdout="".join(out),
        stderr="\n".join(l for _, l in lines[1:]),
        returncode=proc.returncode,
        stages=stages,
        cpu=rusage.ru_utime + rusage.ru_stime,
    )


# ------------------------------------------------------------------ the harness of bench/analysts.py and bench/forecast.py

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CLI = [PY, "-m", "pipelines.cli"]


def timed(cmd: list[str], label: str, env: dict | None = None) -> Measured:
    """Run ``cmd`` in its own process from the project root (:func:`measure`; ``env`` added to the
    environment), print one line (wall, peak RSS, the ``time:`` line the command printed) and return
    the measure; a failure ends the bench."""
    m = measure(cmd, label, cwd=ROOT, env={**os.environ, **(env or {})})
    if m.returncode != 0:
        sys.exit(f"{label} failed ({m.returncode}):\n{m.stderr[-2000:]}")
    stages = " ".join(l.strip() for l in (m.stdout + "\n" + m.stderr).splitlines() if l.strip().startswith("time:"))
    print(f"  {label:<30} {m.secs:8.1f} s   peak RSS {m.rss_mib:7.0f} MiB  {stages}", flush=True)
    return m


def without_workbooks(work: Path) -> dict:
    """The environment of a run without the offices' workbooks (settings ``worklist_workbooks =
    false``): the run as it was measured before issue 16, whose XlsxWriter cells would otherwise be
    most of its time (docs/benchmarks.md "Offices' workbooks") and hide the share of what is measured."""
    settings = (ROOT / "data" / "settings.toml").read_text(encoding="utf-8")
    assert "worklist_workbooks = true" in settings
    path = work / "settings-no-workbooks.toml"
    path.write_text(settings.replace("worklist_workbooks = true", "worklist_workbooks = false"), encoding="utf-8")
    return {"RETIRE_PREP_SETTINGS": str(path)}


def stage_seconds(text: str) -> dict[str, float]:
    """The seconds of each stage from a run's ``time:`` line (``time: screen 1.2 s, ledger 0.4 s …``)."""
    line = next((l for l in text.splitlines() if l.strip().startswith("time:")), "")
    return {k: float(v) for k, v in re.findall(r"([a-z]+) ([0-9.]+) s", line)}


def generate_full_incr(work: Path, persons: int, seed: int = 7) -> tuple[Path, Path, int]:
    """The data of bench/run.py under ``work``: a FULL 2026-11 of ``persons`` (0.1 % bad rows) and an
    INCR 2026-12 with 1 % of them changed.  Returns (full, incr, changes)."""
    full, incr = work / "full", work / "incr"
    changes = max(1, persons // 100)
    print(f"generating {persons:,} persons (FULL 2026-11) and an INCR of {changes:,} changes (2026-12)", flush=True)
    t0 = time.perf_counter()
    sample = CLI + ["sample", "--seed", str(seed)]
    subprocess.run(
        sample + ["--persons", str(persons), "--month", "2026-11", "--out", str(full), "--bad-rows", "0.001"],
        cwd=ROOT,
        check=True,
    )
    subprocess.run(
        sample + ["--month", "2026-12", "--out", str(incr), "--incr-from", str(full), "--changes", str(changes)],
        cwd=ROOT,
        check=True,
    )
    print(f"  generated in {time.perf_counter() - t0:.0f} s", flush=True)
    return full, incr, changes
