"""The policy macros (``sql/policy/``) bound once, in a file of their own that every warehouse
connection attaches (issue 15: the suite's and the DAG tasks' many connections).

DuckDB binds a macro's body when the macro is created: created TEMP, the ≈ 45 policy macros took
≈ 18 ms of every connection's ≈ 50, and the ID-number and credit-code checks ≈ 18 ms more of every
connection that validates input rows. They depend only on the settings, so they are rendered once into
a small DuckDB file named by the SHA-256 of DuckDB's version and the rendered text — a changed setting
or macro is another file, never a stale one — and attached READ_ONLY (``sql/warehouse/attach_policy.sql``).

* Where: the user's cache folder, ``$XDG_CACHE_HOME/retire-prep`` (else ``~/.cache/retire-prep``),
  made with mode 0700 and used only if it is the user's own and no one else may write it: not a
  shared /tmp, where another account could leave a file of other rules.
* Written under a temporary name, then renamed: a reader never attaches half a file; two processes
  that build it at once write the same bytes.
* Not in the warehouse itself: ``EXPORT DATABASE`` writes macros in alphabetical order and ``IMPORT
  DATABASE`` then fails on the first that uses a later one (the backup of docs/operations.md), and
  the ``duckdb`` program that analysts and operators use has no ``nfkc``.
* Where the folder cannot be made or the file cannot be attached, the connection creates the macros
  TEMP as before (the same text, with ``temp`` true): slower, never different.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import duckdb

from .settings import Settings

log = logging.getLogger(__name__)

#: the attached file's name in a connection's catalog
ALIAS = "retire_prep_policy"


def cache_folder() -> Path:
    """``$XDG_CACHE_HOME/retire-prep``, else ``~/.cache/retire-prep``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "retire-prep"


def file_for(settings: Settings) -> Path:
    """The file holding the policy macros rendered with ``settings`` (it may not exist yet)."""
    from .warehouse import POLICY_FILE

    h = hashlib.sha256(f"duckdb {duckdb.__version__}\n".encode())
    for step in POLICY_FILE:
        h.update(step.render(**step.given({"settings": settings, "temp": False})).encode())
    return cache_folder() / f"policy-{h.hexdigest()[:32]}.duckdb"


def _own_folder(folder: Path) -> bool:
    """The folder exists or is made (0700), belongs to this user, and no one else may write in it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = folder.stat()
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def build(path: Path, settings: Settings) -> None:
    """Write the macros' file at ``path``: under a temporary name, renamed when complete."""
    from .warehouse import register_policy

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            register_policy(con, settings, temp=False)
        finally:
            con.close()
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)


def ensure(settings: Settings) -> Path | None:
    """The macros' file for ``settings``, built if it is not there yet; None where the cache
    folder is not this user's alone."""
    path = file_for(settings)
    if not _own_folder(path.parent):
        log.debug("policy macros: %s is not this user's alone; TEMP macros instead", path.parent)
        return None
    if not path.exists():
        build(path, settings)
    return path


def attached(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``con`` attached the macros' file (:func:`attach`)."""
    return bool(con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [ALIAS]).fetchone()[0])


def attach(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Attach the policy macros' file (built first if need be) to ``con``; False where it cannot be
    (the caller then creates the macros TEMP). ``nfkc`` must be registered on ``con``."""
    from .steps import run_step
    from .warehouse import STEPS

    try:
        path = ensure(settings)
        if path is None:
            return False
        run_step(con, STEPS["attach_policy"], path=str(path), alias=ALIAS)
        return True
    except (OSError, duckdb.Error) as exc:
        log.debug("policy macros: the cached file cannot be used (%s); TEMP macros instead", type(exc).__name__)
        return False
