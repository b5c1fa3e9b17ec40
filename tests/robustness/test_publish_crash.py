"""Crash safety of publishing (issue 14): ``kill -9`` at every file and folder step of ``run``,
``declare`` and the DAG's tasks that write ``OUT/P``, then a rerun.

The mechanism is the ingest's (tests/robustness/test_ingest_crash.py: a hook that stops the process at a
chosen moment, then SIGKILL, no clean-up of its own) with the enumeration of
tests/robustness/test_fault_injection.py (every step of a reference run counted once): the command runs in a
``fork`` of the test process whose file-system calls from ``pipelines`` are counted; at step k the
child sends itself SIGKILL.  Nothing runs after it: no ``except``, no ``finally``, no ROLLBACK, no
``atexit`` — what a power cut leaves, short of the page cache.

A step is every call, from ``pipelines``, of ``os.replace`` / ``os.rename`` / ``os.unlink``, a
folder exchange (``outputs._rename_exchange``), ``shutil.rmtree`` / ``copyfile``,
``Path.mkdir`` / ``write_text`` / ``write_bytes`` / ``unlink``; the kill comes before the step, so
"after step k-1" is tested too.  Steps are grouped in *kinds*
(:func:`kind_of`: every step inside a staging folder is one kind per operation, the steps inside
an office's folder one kind per folder), and every kind is killed at its first and its last step
(every step with ``PUBLISH_CRASH_ALL=1``): that bounds the count while every distinct moment of
the publication is hit. A command that starts from another's state and takes its steps up to a
point (the swap by two renames, ``REPEATS``) is killed only at the kinds the other has not.

A kill inside the analysts' rebuild (30 of the 89; every command calls it once its work is
committed and its connection closed) is made in a child that makes that call again from a copy of
the workspace the reference run had when it began, SIGKILLed at the same step: the same disk and
steps (:func:`test_the_steps_are_counted` compares them) without rerunning the command before it
(docs/decisions.md "The publishing sweep's kills in the analysts' rebuild").

After each kill:

* ``OUT/P`` without ``PUBLISHING.txt`` is exactly as before the command or exactly as after the
  reference run, folder by folder and as a whole (docs/operations.md §4: the file is there
  whenever the month may be a mix);
* the rerun (the same command; for the DAG, the killed task and the ones after it, as Airflow's
  retry runs them) exits 0, removes ``PUBLISHING.txt``, and leaves ``OUT`` byte-identical to the
  reference and the warehouse equal to it (``notice_log`` included: no notice lost or doubled; the
  tables compared by a digest first, tests/support/state_digest.py, and in full when it differs).

Runs on one core in well under two minutes (GX is imported once, in the parent).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import pipelines.analysts
import pipelines.outputs
from pipelines.cli import main
from support.pushkit import person, to_conclusion_rows, write_batch
from support.publish import OFFICES, no_validation, persons, segments
from support.state import (
    FB_COLUMNS,
    _real_connect,
    analysts_problems,
    file_diff,
    file_state,
    in_analysts_rebuild,
    table_diff,
    table_state,
)
from support.state_digest import table_digest, tables_diff

ALL = os.environ.get("PUBLISH_CRASH_ALL") == "1"
RUN_FOLDERS = pipelines.outputs.RUN_FOLDERS
MONTH, NEXT = "2026-11", "2026-12"

_RealPool = concurrent.futures.ThreadPoolExecutor


# ------------------------------------------------------------------------------------------ the hook


class StepHook:
    """Counts the file and folder steps of ``pipelines``; SIGKILLs this process at step ``kill_at``."""

    def __init__(self, kill_at: int | None = None):
        self.kill_at = kill_at
        self.labels: list[str] = []

    def step(self, kind: str, path) -> None:
        k = len(self.labels)
        self.labels.append(f"{kind} {_rel(path)}")
        if k == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def _rel(p) -> str:
    parts = Path(p).parts
    for i, part in enumerate(parts):
        if part in ("out", "w.validation"):
            return "/".join(parts[i:])
    return "/".join(parts[-2:])


def _from_pipelines() -> bool:
    return sys._getframe(2).f_globals.get("__name__", "").startswith("pipelines")


class _OnePool(_RealPool):
    """write_partitioned's pool with one worker: the steps come in one order."""

    def __init__(self, max_workers=None, *a, **kw):
        super().__init__(1, *a, **kw)


@contextlib.contextmanager
def hooked(hook: StepHook):
    mp = pytest.MonkeyPatch()

    def wrap(owner, name, kind, path_arg=0, method=False):
        real = getattr(owner, name)

        def f(*a, **kw):
            if _from_pipelines():
                hook.step(kind, a[path_arg] if a else kw.get("path", "?"))
            return real(*a, **kw)

        mp.setattr(owner, name, f)

    wrap(os, "replace", "replace", 1)
    wrap(os, "rename", "rename", 1)
    wrap(os, "unlink", "unlink")
    wrap(shutil, "rmtree", "rmtree")
    wrap(shutil, "copyfile", "copyfile", 1)
    wrap(pipelines.outputs, "_rename_exchange", "exchange", 1)
    wrap(Path, "mkdir", "mkdir")
    wrap(Path, "write_text", "write")
    wrap(Path, "write_bytes", "write")
    wrap(Path, "unlink", "unlink")
    mp.setattr(concurrent.futures, "ThreadPoolExecutor", _OnePool)
    try:
        yield hook
    finally:
        mp.undo()


@contextlib.contextmanager
def renames_only(on: bool = True):
    """Folders swapped in by two renames through ``.<name>.old``, as where the atomic exchange is
    missing (a file system without RENAME_EXCHANGE, e.g. NFS; not Linux)."""
    mp = pytest.MonkeyPatch()
    if on:
        mp.setattr(pipelines.outputs, "_rename_exchange", lambda a, b: False)
    try:
        yield
    finally:
        mp.undo()


def kind_of(label: str, one_call: bool = False) -> str:
    """The kind of a step: its operation and where.  Every step inside a staging folder is one
    kind per operation (nothing outside it has changed yet: the moments differ only in how much of
    the staging folder exists) — one kind for them all in a command of one call (``one_call``: the
    CLI's run and declare write their staging folder after the warehouse's last commit, so its
    steps differ only in how much of it exists), but for ``.swap-started``, after which a rerun
    finishes the swap; the DAG's tasks keep a kind per operation (they write the staging folder in
    several tasks); steps inside an office's folder are one kind per operation and folder
    (``worklists/<office>/*``)."""
    op, path = label.split(" ", 1)
    if re.search(r"/\.[^/]+\.partial(/|$)", path):
        if one_call and not path.endswith("/.swap-started"):
            return "<staging>"
        return f"{op} <staging>" + ("/…" if not path.endswith(".partial") else "")
    path = re.sub(r"/64[0-9]{4}(/.*)?$", "/<office>/*", path)
    # the folders moved into OUT/P one after the other: one kind (first and last are killed)
    return f"{op} " + re.sub(
        r"/(\.?)(worklists|notifications|handovers|letters|report)(\.old)?$", r"/\1<folder>\3", path
    )


def kill_points(labels: list[str], tried: list[str] = (), one_call: bool = False) -> list[int]:
    """The first and the last step of every kind (every step with PUBLISH_CRASH_ALL=1), but not of
    the kinds of ``tried``: the steps of a command whose kills at those kinds repeat another's."""
    if ALL:
        return list(range(len(labels)))
    done = {kind_of(lb, one_call) for lb in tried}
    first, last = {}, {}
    for i, lb in enumerate(labels):
        kind = kind_of(lb, one_call)
        if kind in done:
            continue
        first.setdefault(kind, i)
        last[kind] = i
    return sorted(set(first.values()) | set(last.values()))


#: A command killed only at the kinds of step the other one has not: ``run-again-renames`` starts
#: from ``run-again``'s state and takes its steps until the folders are swapped (by two renames
#: instead of one exchange), so a kill at a kind both have is the same trial twice.
REPEATS = {"run-again-renames": "run-again"}


def points_of(scenario, name: str) -> list[int]:
    other = REPEATS.get(name)
    one_call = len(scenario[name].calls) == 1
    return kill_points(scenario[name].labels, scenario[other].labels if other else (), one_call)


def killed(fn, k: int) -> tuple[bool, int]:
    """Run ``fn()`` in a fork of this process, SIGKILLed at step ``k``: (killed?, its exit status)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 3
        try:
            with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
                with hooked(StepHook(k)):
                    code = fn()
        finally:
            os._exit(code if isinstance(code, int) else 0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return os.WTERMSIG(status) == signal.SIGKILL, -os.WTERMSIG(status)
    return False, os.WEXITSTATUS(status)


# ------------------------------------------------------------------------------------------ scenario


def _correction(folder: Path, ps: list[dict]) -> Path:
    """A correction push of 2026-11 (seq 2): an office change, a death, a new phone, a newcomer."""
    by_n = {i + 1: p for i, p in enumerate(ps)}
    changed = [
        dict(by_n[2], op="U", insured_region="640104", hukou_region="640104"),
        dict(by_n[5], op="U", survival_status="2"),
        dict(by_n[3], op="U", phone="13700000003"),
        dict(
            person(20, birth_date="19670315", insured_region="640105", hukou_region="640105", phone="13900000020"),
            op="I",
        ),
    ]
    segs = segments([p for p in changed if p.get("op") != "D"])
    return write_batch(folder, changed, segs, seq=2, push_type="INCR", base_seq=1, month=MONTH)


def _feedback(path: Path, ps: list[dict]) -> Path:
    import csv
    import io

    rows = to_conclusion_rows("640104", ps[10]["id_no"], MONTH, elected="2027-01")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FB_COLUMNS)
    for r in rows:
        w.writerow([r.get(c, "") for c in FB_COLUMNS])
    path.write_bytes(buf.getvalue().encode("utf-8"))
    return path


@dataclass
class Rebuild:
    """An analysts' rebuild of a reference run: its steps ``first`` to ``end`` (excluded), the
    workspace when the call began (``ws``) and the call's arguments."""

    first: int
    end: int
    ws: Path
    warehouse: str  # the warehouse's path relative to the workspace
    home: str  # the workspace's folder name (in the steps' labels)
    args: tuple
    kwargs: dict


@dataclass
class Cmd:
    name: str
    month: str
    calls: list  # (label, fn(ws) -> exit status); a DAG has several (its tasks)
    pre: Path = None
    post: Path = None
    before_task: list = field(default_factory=list)  # the workspace before each call
    labels: list = field(default_factory=list)
    task_of_step: list = field(default_factory=list)  # index of the call each step belongs to
    post_tables: dict = None
    post_digest: dict = None  # support.state_digest.table_digest of the post warehouse
    post_files: dict = None
    pre_files: dict = None
    rebuilds: list = field(default_factory=list)  # Rebuild, one per analysts' rebuild of the reference run
    exchange: bool = True  # False: folders are swapped by two renames (no renameat2: NFS, not Linux)


def _cli(*argv):
    return lambda ws: main(
        [str(a).replace("{W}", str(ws / "w.duckdb")).replace("{OUT}", str(ws / "out")) for a in argv]
    )


def _dag_task(name: str, month: str, **kw):
    def call(ws):
        from pipelines import orchestration as o

        env = {"RETIRE_PREP_WAREHOUSE": str(ws / "w.duckdb"), "RETIRE_PREP_OUT": str(ws / "out")}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            o.stage(name, month, **kw)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return 0

    return call


def _dag(month: str, offices) -> list:
    """The DAG's tasks as dags/pre_service_monthly.py builds them from STAGES: begin, the writers in
    order, the readers (the per-office one for each office), finish."""
    from pipelines.stages import STAGES

    calls = [("begin", _dag_task("begin", month))]
    for st in STAGES:
        if st.per_office:
            calls += [(f"{st.name}[{o}]", _dag_task(st.name, month, offices=[o])) for o in offices]
        else:
            calls.append((st.name, _dag_task(st.name, month)))
    return calls + [("finish", _dag_task("finish", month))]


def _copy(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)
    return dst


def _run_calls(cmd: Cmd, ws: Path, start: int = 0) -> None:
    for label, fn in cmd.calls[start:]:
        assert fn(ws) == 0, f"{cmd.name}: {label} failed"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, request):
    """ingest → run 2026-11 (first) → feedback → declare 2026-12 (first) → correction push of
    2026-11 → run 2026-11 again (over published files) → declare 2026-12 again; and the same
    rerun of 2026-11 by the DAG's tasks.  Each command's reference run records its steps."""
    mp = pytest.MonkeyPatch()
    no_validation(mp)
    request.addfinalizer(mp.undo)
    base = tmp_path_factory.mktemp("pubcrash")
    ps = persons()
    b1 = write_batch(base / "inbox" / "b1", ps, segments(ps), seq=1, month=MONTH)
    b2 = _correction(base / "inbox" / "b2", ps)
    fb = _feedback(base / "inbox" / "feedback.csv", ps)
    ws = base / "ws"
    (ws / "out").mkdir(parents=True)
    assert _cli("ingest", b1, "--warehouse", "{W}")(ws) == 0
    run = ("run", "--month", MONTH, "--warehouse", "{W}", "--out", "{OUT}")
    declare = ("declare", "--month", NEXT, "--warehouse", "{W}", "--out", "{OUT}")
    cmds = {}

    def record(cmd: Cmd):
        cmd.pre = _copy(ws, base / f"pre-{cmd.name}")
        cmd.pre_files = file_state(cmd.pre / "out")
        hook = StepHook()
        with renames_only(not cmd.exchange), hooked(hook), rebuilds_kept(cmd, hook, ws, base):
            for i, (label, fn) in enumerate(cmd.calls):
                cmd.before_task.append(cmd.pre if i == 0 else _copy(ws, base / f"pre-{cmd.name}-{i}"))
                assert fn(ws) == 0, f"{cmd.name}: {label}"
                cmd.task_of_step += [i] * (len(hook.labels) - len(cmd.task_of_step))
        cmd.labels = hook.labels
        cmd.post = _copy(ws, base / f"post-{cmd.name}")
        cmd.post_tables = table_state(cmd.post / "w.duckdb")
        cmd.post_digest = table_digest(cmd.post / "w.duckdb")
        cmd.post_files = file_state(cmd.post / "out")
        cmds[cmd.name] = cmd

    record(Cmd("run-first", MONTH, [("run", _cli(*run))]))
    assert _cli("feedback", fb, "--warehouse", "{W}")(ws) == 0
    record(Cmd("declare-first", NEXT, [("declare", _cli(*declare))]))
    assert _cli("ingest", b2, "--warehouse", "{W}")(ws) == 0
    before_rerun = _copy(ws, base / "before-rerun")
    record(Cmd("run-again-renames", MONTH, [("run", _cli(*run))], exchange=False))
    ws = _copy(before_rerun, base / "ws")
    record(Cmd("run-again", MONTH, [("run", _cli(*run))]))
    record(Cmd("declare-again", NEXT, [("declare", _cli(*declare))]))
    # the DAG's run of the same month from the same state, in its own workspace
    dag_ws = _copy(before_rerun, base / "dag-ws")
    ws_saved, ws = ws, dag_ws
    record(Cmd("dag-again", MONTH, _dag(MONTH, OFFICES)))
    ws = ws_saved
    cmds["_base"] = base
    return cmds


@contextlib.contextmanager
def rebuilds_kept(cmd: Cmd, hook: StepHook, ws: Path, base: Path):
    """Each analysts' rebuild of a reference run (:class:`Rebuild`, a copy of the workspace when it
    began), for a kill inside it to start there (:func:`trial`); no DuckDB instance of the process
    holds the warehouse then (a read-only open fails while one does)."""
    real = pipelines.analysts.rebuild
    mp = pytest.MonkeyPatch()

    def at_entry(warehouse, *args, **kwargs):
        rel = Path(warehouse).relative_to(ws).as_posix()
        first = len(hook.labels)
        at = _copy(ws, base / f"rebuild-{cmd.name}-{len(cmd.rebuilds)}")
        _real_connect(str(warehouse), read_only=True).close()
        try:
            return real(warehouse, *args, **kwargs)
        finally:
            cmd.rebuilds.append(Rebuild(first, len(hook.labels), at, rel, ws.name, args, kwargs))

    mp.setattr(pipelines.analysts, "rebuild", at_entry)
    try:
        yield
    finally:
        mp.undo()


def _rebuild_of(cmd: Cmd, k: int) -> Rebuild | None:
    """The analysts' rebuild step ``k`` of the reference run belongs to, if any."""
    return next((r for r in cmd.rebuilds if r.first <= k < r.end), None)


# ------------------------------------------------------------------------------------------ checks


def _month_files(files: dict, month: str) -> dict:
    return {k: v for k, v in files.items() if k.startswith(f"{month}/")}


def publication_problems(before: dict, now: dict, after: dict, month: str, folders) -> list[str]:
    """What docs/operations.md §4 promises of OUT/P after a killed command: without PUBLISHING.txt
    it is all as before or all as after (each folder, and the month as a whole)."""
    if f"{month}/PUBLISHING.txt" in now:
        return []
    b, n, a = (_month_files(x, month) for x in (before, now, after))
    pick = lambda files, name: {k: v for k, v in files.items() if k.startswith(f"{month}/{name}/")}
    states = []
    for name in folders:
        fb, fn, fa = pick(b, name), pick(n, name), pick(a, name)
        if fn == fb:
            states.append("old")
        elif fn == fa:
            states.append("new")
        else:
            return [f"{month}/{name} is neither as before nor as after, and no PUBLISHING.txt: {file_diff(fa, fn)}"]
    changed = [s for s, name in zip(states, folders) if pick(b, name) != pick(a, name)]
    if "old" in changed and "new" in changed:
        return [f"{month} mixes old and new folders {dict(zip(folders, states))} without PUBLISHING.txt"]
    return []


@dataclass
class Trial:
    cmd: str
    k: int
    label: str
    problems: list = field(default_factory=list)

    def __str__(self):
        return f"{self.cmd} killed before step {self.k} [{self.label}]: " + "; ".join(self.problems)


def trial(scenario, name: str, k: int) -> Trial:
    cmd: Cmd = scenario[name]
    t = Trial(name, k, cmd.labels[k])
    task = cmd.task_of_step[k]  # the DAG's tasks before the killed one ran as in the reference
    rb = _rebuild_of(cmd, k) if in_analysts_rebuild(cmd.labels[k]) else None
    if rb is None:
        ws = _copy(cmd.before_task[task], scenario["_base"] / "trial")
        start, fn = cmd.task_of_step.index(task), lambda: cmd.calls[task][1](ws)
    else:
        # killed in the analysts' rebuild, after the command's work (committed, its connection
        # closed): the child starts where the reference run's rebuild began, from the workspace it
        # had then, and makes the same call — the same disk, the same steps up to k, and still a
        # SIGKILL (docs/decisions.md "The publishing sweep's kills in the analysts' rebuild")
        ws = _copy(rb.ws, scenario["_base"] / "trial")
        start, fn = rb.first, lambda: pipelines.analysts.rebuild(ws / rb.warehouse, *rb.args, **rb.kwargs)
    with renames_only(not cmd.exchange):
        _kill_and_rerun(cmd, ws, k, task, t, fn, k - start)
    return t


def _kill_and_rerun(cmd: Cmd, ws: Path, k: int, task: int, t: Trial, fn, at: int) -> None:
    name = cmd.name
    was_killed, status = killed(fn, at)
    if not was_killed:
        t.problems.append(f"step not reached (exit {status}): the command took another path")
        return
    now = file_state(ws / "out")
    folders = ("declarations",) if name.startswith("declare") else RUN_FOLDERS
    t.problems += publication_problems(cmd.pre_files, now, cmd.post_files, cmd.month, folders)
    # killed in the analysts' rebuild (pipelines/analysts.py), after the command's work is committed
    # (the DAG's finish task then finds no run begun): the recovery is `retire-prep analysts`
    after_commit = in_analysts_rebuild(cmd.labels[k])
    # the rerun: the same command; for the DAG, the killed task and every one after it
    try:
        if after_commit:
            from pipelines.analysts import rebuild

            rebuild(ws / "w.duckdb")
        else:
            _run_calls(cmd, ws, task)
    except AssertionError as exc:
        t.problems.append(f"rerun failed: {exc}")
        return
    after = file_state(ws / "out")
    if f"{cmd.month}/PUBLISHING.txt" in after:
        t.problems.append("PUBLISHING.txt still there after the rerun")
    t.problems += [f"after rerun: {d}" for d in file_diff(cmd.post_files, after)]
    t.problems += [f"after rerun: {d}" for d in tables_diff(cmd.post_tables, cmd.post_digest, ws / "w.duckdb")]
    t.problems += [f"after rerun: {d}" for d in analysts_problems(ws / "w.duckdb")]


# ------------------------------------------------------------------------------------------ tests

COMMANDS = ["run-first", "run-again", "run-again-renames", "declare-first", "declare-again", "dag-again"]


def test_the_steps_are_counted(scenario):
    """The hook sees the steps that matter: the staging, the swap, the marker, the office files."""
    kinds = {n: {kind_of(lb) for lb in scenario[n].labels} for n in COMMANDS}
    assert "exchange out/2026-11/<folder>" in kinds["run-again"]  # over published folders
    assert "write out/2026-11/PUBLISHING.txt" in kinds["run-first"]
    assert "unlink out/2026-11/PUBLISHING.txt" in kinds["run-first"]
    assert "replace out/2026-12/declarations" in kinds["declare-first"]  # no folder yet: a rename
    assert "exchange out/2026-12/declarations" in kinds["declare-again"]
    assert "replace out/2026-11/.<folder>.old" in kinds["run-again-renames"]
    # the DAG writes into the staging folder and its finish swaps it in as the command line does
    assert "replace <staging>/…" in kinds["dag-again"]
    assert not any(k.startswith("replace out/2026-11/worklists/") for k in kinds["dag-again"])
    for k in ("exchange out/2026-11/<folder>", "write out/2026-11/PUBLISHING.txt", "unlink out/2026-11/PUBLISHING.txt"):
        assert k in kinds["dag-again"], k
    # the renames' own kinds are killed: the two renames of a folder and what follows them
    own = {kind_of(scenario["run-again-renames"].labels[k]) for k in points_of(scenario, "run-again-renames")}
    assert {"replace out/2026-11/.<folder>.old", "replace out/2026-11/<folder>"} <= own, own
    # a kill in the analysts' rebuild starts where that rebuild began (trial): the call made again takes its steps
    for n in COMMANDS:
        for k in points_of(scenario, n):
            if in_analysts_rebuild(scenario[n].labels[k]):
                assert _rebuild_of(scenario[n], k) is not None, (n, scenario[n].labels[k])
        for i, rb in enumerate(scenario[n].rebuilds):
            ws = _copy(rb.ws, scenario["_base"] / f"rebuild-check-{n}-{i}" / rb.home)
            with hooked(StepHook()) as hook:
                pipelines.analysts.rebuild(ws / rb.warehouse, *rb.args, **rb.kwargs)
            assert hook.labels == scenario[n].labels[rb.first : rb.end], (n, i)
    print({n: (len(scenario[n].labels), len(points_of(scenario, n))) for n in COMMANDS})
    for n in COMMANDS:
        print(n, [scenario[n].labels[k] for k in points_of(scenario, n)])


def test_dag_and_command_line_publish_the_same_bytes(scenario):
    assert file_diff(scenario["run-again"].post_files, scenario["dag-again"].post_files) == []
    assert file_diff(scenario["run-again"].post_files, scenario["run-again-renames"].post_files) == []


@pytest.mark.parametrize("name", COMMANDS)
def test_kill_at_every_step_then_rerun(scenario, name):
    cmd = scenario[name]
    bad = []
    points = points_of(scenario, name)
    for k in points:
        t = trial(scenario, name, k)
        if t.problems:
            bad.append(str(t))
    print(f"{name}: {len(cmd.labels)} steps, {len(points)} killed, {len(bad)} bad")
    assert not bad, "\n".join(bad)


def test_leftover_old_folder_of_a_killed_rerun_does_not_block_the_month(scenario, capsys):
    """The issue's set-up exactly: P run, ``OUT/P/.worklists.old/640104`` left behind, P run
    again: it succeeds (it exited 2, "Directory not empty", for ever) and publishes the same bytes."""
    cmd = scenario["run-again"]
    ws = _copy(cmd.pre, scenario["_base"] / "issue-setup")
    (ws / "out" / MONTH / ".worklists.old" / "640104").mkdir(parents=True)
    (ws / "out" / MONTH / ".report.old").write_text("a file where a folder was moved aside\n")
    with renames_only():
        assert cmd.calls[0][1](ws) == 0, capsys.readouterr().err
    assert file_diff(cmd.post_files, file_state(ws / "out")) == []
    assert not (ws / "out" / MONTH / ".worklists.old").exists()


def test_dag_killed_in_an_office_task_is_repaired_by_running_the_month_again(scenario):
    """A DAG run killed while an office task wrote its files (into the staging folder: OUT/P is
    untouched, whole, and not marked), then the command line's run of the month."""
    cmd = scenario["dag-again"]
    k = next(i for i, lb in enumerate(cmd.labels) if "worklists/640105/worklist.csv" in lb)
    assert ".2026-11.partial/" in cmd.labels[k]
    task = cmd.task_of_step[k]
    ws = _copy(cmd.before_task[task], scenario["_base"] / "dag-then-cli")
    was_killed, _ = killed(lambda: cmd.calls[task][1](ws), k - cmd.task_of_step.index(task))
    assert was_killed
    assert not (ws / "out" / MONTH / "PUBLISHING.txt").exists()
    assert _month_files(file_state(ws / "out"), MONTH) == _month_files(file_state(cmd.pre / "out"), MONTH)
    assert _cli("run", "--month", MONTH, "--warehouse", "{W}", "--out", "{OUT}")(ws) == 0
    assert file_diff(cmd.post_files, file_state(ws / "out")) == []
    assert table_diff(cmd.post_tables, table_state(ws / "w.duckdb")) == []
