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
import subprocess
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Measured:
    label: str
    secs: float
    rss_mib: float  # the kernel's peak (ru_maxrss)
    peak_at: str  # the last stderr line before the sampled peak (the stage)
    sampled_peak_mib: float
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
    peak_t, peak_k = max(samples, key=lambda s: s[1], default=(0.0, 0))
    at = [line for ts, line in lines if ts <= peak_t]
    return Measured(
        label=label,
        secs=secs,
        rss_mib=rusage.ru_maxrss / 1024,
        peak_at=_short(at[-1]) if at else "",
        sampled_peak_mib=peak_k / 1024,
        stdout="".join(out),
        stderr="\n".join(l for _, l in lines[1:]),
        returncode=proc.returncode,
        stages=stages,
        cpu=rusage.ru_utime + rusage.ru_stime,
    )
