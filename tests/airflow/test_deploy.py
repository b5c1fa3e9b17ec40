"""deploy/: what the division installs, and Airflow on one machine (issue 20 item 1, issue 14 item 11).

* the person key read from a file (``RETIRE_PREP_PERSON_KEY_FILE``), with a clear error;
* ``deploy/airflow-local.sh``: loopback, parallelism = cores, log servers off; ``stop`` ends every
  process of the services' sessions, including children that made their own process group and
  ignore SIGTERM (what a task process under LocalExecutor looks like);
* the systemd units and the environment file: service user, loopback, no secret in the file.

The real services on PostgreSQL: ``make airflow-check`` (deploy/airflow_check.py).
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines import PROJECT_ROOT
from pipelines.errors import RetirePrepError
from pipelines.settings import load_settings

DEPLOY = PROJECT_ROOT / "deploy"
LOCAL = DEPLOY / "airflow-local.sh"


# ------------------------------------------------------------------ the person key from a file


def test_person_key_from_a_file_only_the_service_user_reads(tmp_path, monkeypatch):
    monkeypatch.delenv("RETIRE_PREP_PERSON_KEY", raising=False)
    key = tmp_path / "person_key"
    key.write_text("s3cret-from-file\n", encoding="utf-8")
    key.chmod(0o400)
    monkeypatch.setenv("RETIRE_PREP_PERSON_KEY_FILE", str(key))
    assert load_settings().person_key_secret == "s3cret-from-file"
    monkeypatch.setenv("RETIRE_PREP_PERSON_KEY", "from-env")  # the variable still wins
    assert load_settings().person_key_secret == "from-env"


def test_a_missing_or_empty_key_file_is_a_clear_refusal(tmp_path, monkeypatch):
    monkeypatch.delenv("RETIRE_PREP_PERSON_KEY", raising=False)
    monkeypatch.setenv("RETIRE_PREP_PERSON_KEY_FILE", str(tmp_path / "nope"))
    with pytest.raises(RetirePrepError, match="cannot be read .* readable by the service user"):
        load_settings()
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    monkeypatch.setenv("RETIRE_PREP_PERSON_KEY_FILE", str(tmp_path / "empty"))
    with pytest.raises(RetirePrepError, match="is empty"):
        load_settings()


# ------------------------------------------------------------------ deploy/airflow-local.sh


def _local(*args, home: Path, **env) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    e.update(AIRFLOW_HOME=str(home), **env)
    return subprocess.run(["bash", str(LOCAL), *args], env=e, capture_output=True, text=True, timeout=120)


def test_one_machine_listens_on_loopback_sized_to_the_machine(tmp_path):
    r = _local("env", home=tmp_path)
    assert r.returncode == 0, r.stderr
    env = dict(line.removeprefix("export ").split("=", 1) for line in r.stdout.splitlines())
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__API__BASE_URL"].startswith("http://127.0.0.1:")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://127.0.0.1:")
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    assert env["AIRFLOW__CORE__PARALLELISM"] == cores  # LocalExecutor's worker processes: one per core
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    script = LOCAL.read_text(encoding="utf-8")
    # the log servers bind every interface: not started; the API server on loopback
    assert 'scheduler|triggerer) args=("$s" --skip-serve-logs)' in script
    assert "api-server --host 127.0.0.1" in script
    assert "0.0.0.0" not in script.replace("# (8793, 8794: all interfaces", "")


STUBBORN = r"""
import os, signal, subprocess, sys, time
# a service: its child makes a process group of its own (as Airflow's task processes do)
# and ignores SIGTERM; the grandchild too
if sys.argv[1:] == ["child"]:
    os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
    time.sleep(600)
else:
    subprocess.Popen([sys.executable, __file__, "child"])
    time.sleep(600)
"""


def _session_pids(sid: int) -> list[int]:
    """Live processes of a session (zombies have ended: their parent may never reap them)."""
    out = subprocess.run(["ps", "-o", "pid=,stat=", "-s", str(sid)], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if line.split() and not line.split()[1].startswith("Z")]


def test_stop_ends_every_process_of_the_sessions_even_those_ignoring_sigterm(tmp_path):
    stub = tmp_path / "fake-airflow-service.py"  # a service's command line names airflow
    stub.write_text(STUBBORN, encoding="utf-8")
    run = tmp_path / "run"
    run.mkdir()
    leaders = []
    for name in ("scheduler", "api-server"):
        p = subprocess.Popen(
            ["setsid", sys.executable, str(stub)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        (run / f"{name}.sid").write_text(str(p.pid), encoding="utf-8")
        leaders.append(p)
    try:
        t0 = time.monotonic()
        while sum(len(_session_pids(p.pid)) for p in leaders) < 6 and time.monotonic() - t0 < 20:
            time.sleep(0.2)
        assert sum(len(_session_pids(p.pid)) for p in leaders) == 6  # 2 services x (self, child, grandchild)
        groups = {
            int(subprocess.run(["ps", "-o", "pgid=", "-p", str(pid)], capture_output=True, text=True).stdout)
            for p in leaders
            for pid in _session_pids(p.pid)
        }
        assert len(groups) == 4  # the children are in groups of their own: a group kill would miss them
        r = _local("stop", home=tmp_path, AIRFLOW_STOP_GRACE="4")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "killing what did not stop in 4 s" in r.stderr
        assert "no process left" in r.stdout
        for p in leaders:
            p.wait(timeout=10)
            assert _session_pids(p.pid) == []
        assert not list(run.glob("*.sid"))
        assert "nothing running" in _local("stop", home=tmp_path).stdout
        # a session id left from an earlier start, now the pid of another program: not touched
        other = subprocess.Popen(["setsid", "sleep", "30"])
        try:
            (run / "scheduler.sid").write_text(f"{other.pid}\n", encoding="utf-8")
            r = _local("stop", home=tmp_path)
            assert "not ours, left alone" in r.stderr and other.poll() is None
        finally:
            other.kill()
            other.wait()
    finally:
        for p in leaders:
            for pid in _session_pids(p.pid):
                os.kill(pid, 9)


# ------------------------------------------------------------------ systemd units, environment file


def _unit(name: str) -> configparser.ConfigParser:
    c = configparser.ConfigParser(strict=False, interpolation=None)
    c.optionxform = str
    c.read(DEPLOY / "systemd" / name, encoding="utf-8")
    return c


def test_services_run_as_the_service_user_on_the_environment_file():
    services = {
        "api-server": "api-server",
        "scheduler": "scheduler --skip-serve-logs",
        "dag-processor": "dag-processor",
        "triggerer": "triggerer --skip-serve-logs",
    }
    for name, args in services.items():
        u = _unit(f"retire-prep-airflow-{name}.service")
        svc = u["Service"]
        assert svc["User"] == "retireprep" and svc["EnvironmentFile"] == "/etc/retire-prep/retire-prep.env"
        assert svc["ExecStart"].startswith(f"/opt/retire-prep/.venv/bin/airflow {args}"), name
        assert "0.0.0.0" not in svc["ExecStart"]
        assert u["Unit"]["PartOf"] == "retire-prep-airflow.target"
        assert "postgresql.service" in u["Unit"]["Requires"]
    target = (DEPLOY / "systemd" / "retire-prep-airflow.target").read_text(encoding="utf-8")
    for name in services:
        assert f"retire-prep-airflow-{name}.service" in target


def test_the_environment_file_is_loopback_postgres_and_holds_no_secret():
    env = {}
    for line in (DEPLOY / "retire-prep.env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k] = v
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://retireprep@/airflow?host=")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["RETIRE_PREP_PERSON_KEY_FILE"] == "/etc/retire-prep/person_key"
    assert not any(
        k in env
        for k in (
            "RETIRE_PREP_PERSON_KEY",
            "AIRFLOW__API_AUTH__JWT_SECRET",
            "AIRFLOW__CORE__FERNET_KEY",
            "AIRFLOW__API__SECRET_KEY",
        )
    )
    assert ":" not in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split("//", 1)[1].split("@")[0]  # no password
    for script in ("airflow-local.sh", "install.sh"):
        r = subprocess.run(["bash", "-n", str(DEPLOY / script)], capture_output=True, text=True)
        assert r.returncode == 0, (script, r.stderr)


# ------------------------------------------------------------------ install.sh, as run for real (deploy/try-install.sh)


INSTALL = DEPLOY / "install.sh"
SHIM = DEPLOY / "dev" / "systemctl-shim" / "systemctl"


def test_install_uses_debians_interpreter_and_an_editable_install():
    """Found by running it (docs/operations.md §6): root's ``python3.11`` was pyenv's under /root
    ("bad interpreter: Permission denied" for the service user), and a non-editable install put
    ``pipelines`` in site-packages, where ``SQL_DIR`` is ``site-packages/sql`` (absent)."""
    script = INSTALL.read_text(encoding="utf-8")
    assert "PY=/usr/bin/python3.11" in script and '"$PY" -m venv "$PREFIX/.venv"' in script
    assert "python3.11 -m venv" not in script
    assert 'readlink -f "$PREFIX/.venv/bin/python"' in script  # a venv on another interpreter is made anew
    assert 'pip" install -q --no-deps -e "$PREFIX"' in script
    assert 'pip" install -q --no-deps "$PREFIX"' not in script
    # a rerun upgrades nothing already installed
    apt = next(line for line in script.splitlines() if line.startswith("apt-get install"))
    assert "--no-upgrade" in apt


def test_install_copies_the_code_as_git_would_and_keeps_the_venv(tmp_path):
    """The rsync line of install.sh, run on a stand-in checkout: what .gitignore names is neither
    copied nor deleted at the destination (the virtualenv, the editable install's egg-info)."""
    if shutil.which("rsync") is None:
        pytest.skip("RSYNC MISSING: install the Debian package rsync to run install.sh's copy (.ci/run installs it)")
    line = next(ln for ln in INSTALL.read_text(encoding="utf-8").splitlines() if ln.startswith("rsync "))
    src, dst = tmp_path / "src", tmp_path / "opt"
    for rel in ("pipelines/a.py", "sql/x.sql", "out/demo/big.csv", "bench/work/cache/w.duckdb", ".git/HEAD"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text("x", encoding="utf-8")
    (src / ".gitignore").write_text((PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8"), encoding="utf-8")
    for rel in (".venv/bin/python", "retire_prep.egg-info/PKG-INFO", "stale.py"):
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / rel).write_text("y", encoding="utf-8")
    r = subprocess.run(["bash", "-c", line], env={**os.environ, "SRC": str(src), "PREFIX": str(dst)},
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (dst / "pipelines/a.py").exists() and (dst / "sql/x.sql").exists()
    assert not (dst / "out").exists() and not (dst / "bench/work").exists() and not (dst / ".git").exists()
    assert (dst / ".venv/bin/python").exists() and (dst / "retire_prep.egg-info/PKG-INFO").exists()
    assert not (dst / "stale.py").exists()  # what the checkout no longer has goes


def test_the_systemctl_shim_starts_a_unit_as_systemd_would(tmp_path):
    """deploy/dev/systemctl-shim: User=, EnvironmentFile= on a clean environment, WorkingDirectory=,
    UMask=, ExecStartPre= first, ExecStart= in the background with a pid file; stop ends it."""
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    units, state, wd, seen = tmp_path / "units", tmp_path / "state", tmp_path / "wd", tmp_path / "seen"
    for d in (units, wd, seen):
        d.mkdir()
    (tmp_path / "svc.env").write_text(f"# comment\nFOO=bar baz\nSEEN={seen}\n", encoding="utf-8")
    (units / "try.service").write_text(
        f"[Service]\nUser={user}\nEnvironmentFile={tmp_path / 'svc.env'}\nWorkingDirectory={wd}\nUMask=0027\n"
        "ExecStartPre=/bin/sh -c 'echo pre > ${SEEN}/pre'\n"
        'ExecStart=/bin/sh -c \'pwd > $SEEN/cwd; umask > $SEEN/umask; echo "$FOO" > $SEEN/foo; '
        'echo "${LEAK:-none}" > $SEEN/leak; exec sleep 300\'\n',
        encoding="utf-8",
    )
    (units / "try.target").write_text("[Unit]\nWants=try.service\n", encoding="utf-8")
    env = {**os.environ, "SHIM_UNITDIR": str(units), "SHIM_STATE": str(state), "SHIM_STOP_GRACE": "5", "LEAK": "x"}

    def shim(*args):
        return subprocess.run(["bash", str(SHIM), *args], env=env, capture_output=True, text=True, timeout=60)

    r = shim("start", "try.target")
    try:
        assert r.returncode == 0, r.stderr
        pid = int((state / "try.service.pid").read_text())
        t0 = time.monotonic()
        while not (seen / "leak").exists() and time.monotonic() - t0 < 10:
            time.sleep(0.1)
        assert (seen / "pre").read_text().strip() == "pre"
        assert (seen / "cwd").read_text().strip() == str(wd)
        assert (seen / "umask").read_text().strip() == "0027"
        assert (seen / "foo").read_text().strip() == "bar baz"
        assert (seen / "leak").read_text().strip() == "none"  # systemd's clean environment
        assert shim("is-active", "try.service").stdout.strip() == "active"
        assert shim("is-active", "try.target").stdout.strip() == "active"
        assert shim("stop", "try.target").returncode == 0
        assert _session_pids(pid) == [] and not (state / "try.service.pid").exists()
        assert shim("is-active", "try.service").stdout.strip() == "inactive"
    finally:
        if (state / "try.service.pid").exists():
            for p in _session_pids(int((state / "try.service.pid").read_text())):
                os.kill(p, 9)
