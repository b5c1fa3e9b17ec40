"""The one way to run the SQL of ``sql/``: a stage's steps in one tuple, run by :func:`run_steps`.

A :class:`Step` is one file under ``sql/`` (rendered with Jinja2: settings and parameters only, never
data; the quoting filters ``sql_str``, ``sql_ident`` and ``sql_list`` are below).  Every file opens with
``-- reads:`` / ``-- writes:`` / ``-- params:``; a step is given exactly the parameters of its
``-- params:`` line, picked from the keyword arguments of the call (a missing one is an error), so
one call can pass a month's whole context.

Each stage module lists its steps, in the order the stage runs them, in one module-level tuple
``STEPS`` (a :class:`Steps`: indexed by position, or by a step's name, the file's stem; a slice of
names ``STEPS["01_screened":"05_recompute"]`` is the steps from one to the other, both included).
Where Python work comes between two steps (a count, a frame registered, a pass per bucket) the stage
runs the tuple in parts, in its order.  A table a step reads is in the schema, written by an earlier
step of the same tuple, or named in the step's ``inputs`` (what the stage receives from outside its
steps: a frame it registers, a table its caller made); tests/contract/test_sql_headers.py holds every
``STEPS`` to this and checks, on a small warehouse, that each step writes what it declares.

``run_step`` runs the statements and returns the rows of the last one (fetched: DuckDB refuses other
work on the connection while a result is pending); ``query`` returns the rendered text of a step
that is one SELECT, for the caller to stream (``write_partitioned``, ``COPY``, a frame).

A stage that decides row by row with bound parameters (feedback) lists files of named statements
(``-- name: <name>`` blocks, aiosql's convention) as its steps; :func:`statement` hands out one
statement of such a file, for the caller to execute with its DuckDB parameters.

This module is the only one that renders a file of ``sql/`` (tests/contract/test_sql_headers.py checks it);
values are quoted into the text by the Jinja filters ``sql_str``, ``sql_ident``, ``sql_list``, never
by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable

import jinja2

from . import SQL_DIR
from .errors import RetirePrepError

_LEADING_COMMENTS = re.compile(r"\A(?:[ \t]*(?:--[^\n]*)?\n)+")
_NAME = re.compile(r"^-- name: (\w+)[ \t]*$", re.M)

#: called after each step ran, with (con, step, params): the header test's check of what a step writes
OBSERVERS: list[Callable] = []
#: called each time a named statement is handed out, with (step, name, params): the header test's record
STATEMENT_OBSERVERS: list[Callable] = []


def sql_str(value) -> str:
    """A text literal: ``'it''s'`` (Jinja filter ``sql_str``; the one way a value is quoted into SQL)."""
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises
    return "'" + str(value).replace("'", "''") + "'"


def sql_ident(value) -> str:
    """A quoted identifier, ``a"b`` as ``"a""b"`` (Jinja filter ``sql_ident``)."""
    return '"' + str(value).replace('"', '""') + '"'


def sql_list(values) -> str:
    """Text literals separated by commas, for ``IN (…)`` or ``[…]`` (Jinja filter ``sql_list``)."""
    return ", ".join(sql_str(v) for v in values)


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(SQL_DIR)),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_env.filters.update(sql_str=sql_str, sql_ident=sql_ident, sql_list=sql_list)


def render(sql: str, **params) -> str:
    """``sql/<sql>`` rendered with Jinja2 (settings and parameters, never data), whole."""
    return _env.get_template(sql).render(**params)


@lru_cache(maxsize=None)
def header(sql: str) -> dict[str, frozenset[str]]:
    """The ``-- reads:`` / ``-- writes:`` / ``-- params:`` lines of ``sql/<sql>`` ("-" is none;
    "(…)" a remark), with those of the files it includes."""
    out: dict[str, frozenset[str]] = {}
    with open(SQL_DIR / sql, encoding="utf-8") as fh:
        text = fh.read()
    for line in text.splitlines()[:12]:
        m = re.match(r"--\s*(reads|writes|params):(.*)$", line)
        if m:
            body = re.sub(r"\(.*?\)", "", m.group(2))
            out[m.group(1)] = frozenset(w.strip() for w in body.split(",") if w.strip() and w.strip() != "-")
    missing = {"reads", "writes", "params"} - set(out)
    if missing:
        raise RetirePrepError(f"sql/{sql} has no -- {sorted(missing)[0]}: line")
    # a file it includes is part of it: its reads, writes and params too
    for inc in re.findall(r"""\{%-?\s*include\s+["']([^"']+)["']""", text):
        for k, v in header(inc).items():
            out[k] = out[k] | v
    return out


@dataclass(frozen=True)
class Step:
    """One SQL file of ``sql/`` (``sql``: its path there) in a stage's ``STEPS``.

    ``inputs``: tables the file reads that the stage receives from outside its steps (a frame the
    Python side registers, a table the caller made), stated so that the test knows where they come from.
    """

    sql: str
    inputs: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.sql.rsplit("/", 1)[-1].removesuffix(".sql")

    @property
    def params(self) -> frozenset[str]:
        return header(self.sql)["params"]

    def given(self, params: dict) -> dict:
        """The parameters of the step's ``-- params:`` line, from ``params``."""
        missing = sorted(self.params - set(params))
        if missing:
            raise RetirePrepError(f"sql/{self.sql} needs the parameter(s) {', '.join(missing)}")
        return {k: params[k] for k in self.params}

    def render(self, **params) -> str:
        """The file's text rendered, its opening comment lines (the header and what it says) left out:
        the text DuckDB reports, and a statement's label in tests/robustness/test_fault_injection.py, begin
        with the first statement."""
        return _LEADING_COMMENTS.sub("", render(self.sql, **self.given(params)), count=1)


class Steps(tuple):
    """A stage's steps in order; ``STEPS["name"]`` is one, ``STEPS["a":"b"]`` those from a to b."""

    def __new__(cls, steps: Iterable[Step]):
        steps = tuple(steps)
        names = [s.name for s in steps]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"two steps named {sorted(dup)[0]}")
        return super().__new__(cls, steps)

    def _index(self, name: str) -> int:
        for i, s in enumerate(self):
            if s.name == name:
                return i
        raise KeyError(f"no step {name!r}")

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index(key))
        if isinstance(key, slice) and (isinstance(key.start, str) or isinstance(key.stop, str)):
            start = self._index(key.start) if key.start is not None else 0
            stop = self._index(key.stop) + 1 if key.stop is not None else len(self)
            return Steps(tuple.__getitem__(self, slice(start, stop)))
        out = tuple.__getitem__(self, key)
        return Steps(out) if isinstance(key, slice) else out


def run_step(con, step: Step, *, bind: list | None = None, **params) -> list[tuple]:
    """Run the statements of ``step``; the rows of the last one.  ``bind``: values of the ``?`` of
    the last statement (DuckDB binds parameters in the last statement only)."""
    given = step.given(params)
    sql = step.render(**given)
    rows = (con.execute(sql) if bind is None else con.execute(sql, bind)).fetchall()
    for observe in OBSERVERS:
        observe(con, step, given)
    return rows


def run_steps(con, steps: Iterable[Step], **params) -> dict[str, list[tuple]]:
    """Run ``steps`` in order, each given the parameters of its header from ``params``; the rows
    of each step's last statement, by step name."""
    return {s.name: run_step(con, s, **params) for s in steps}


def passes(n: int, per_pass: int) -> int:
    """How many passes over hash buckets of persons (``hash(id_no) % passes``) a step that would not
    fit DuckDB's memory in one makes for ``n`` rows: one per ``per_pass`` (0: one pass), at least one."""
    return max(1, -(-n // per_pass)) if per_pass else 1


def run_in_passes(con, step: Step, n: int, per_pass: int, **params) -> None:
    """Run ``step`` once per bucket of :func:`passes` (its parameters ``bucket`` and ``buckets``);
    the step filters its persons by ``hash(id_no) % buckets = bucket`` when ``buckets > 1``
    (issue 19: a person's rows are all in one bucket, so the rows are those of one pass)."""
    k = passes(n, per_pass)
    for b in range(k):
        run_step(con, step, **params, bucket=b, buckets=k)


def query(step: Step, **params) -> str:
    """The text of a step that is one SELECT (no trailing ``;``), for the caller to stream."""
    return step.render(**params).strip().rstrip(";")


# ------------------------------------------------------------------ files of named statements


@lru_cache(maxsize=None)
def _blocks(sql: str) -> dict[str, str]:
    """``sql/<sql>`` → {name: statement text}, one per ``-- name: <name>`` block (the header before
    the first name dropped)."""
    parts = _NAME.split((SQL_DIR / sql).read_text(encoding="utf-8"))
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}


@lru_cache(maxsize=None)
def _template(sql: str, name: str) -> jinja2.Template:
    blocks = _blocks(sql)
    if name not in blocks:
        raise RetirePrepError(f"sql/{sql} has no statement {name!r}")
    return _env.from_string(blocks[name])


@lru_cache(maxsize=None)
def _plain(sql: str, name: str) -> str:
    return _template(sql, name).render()


def statement(step: Step, name: str, **params) -> str:
    """The statement ``name`` of ``step``'s file of named statements, rendered (the same Jinja
    environment and filters as every step) with ``params``, which its ``-- params:`` line names;
    the caller executes it with its DuckDB parameters (``$entry_id``), bound row by row.  A statement
    without Jinja parameters is rendered once and kept (feedback asks for them for every row)."""
    unknown = sorted(set(params) - step.params)
    if unknown:
        raise RetirePrepError(f"sql/{step.sql} takes no parameter {unknown[0]}")
    text = _template(step.sql, name).render(**params) if params else _plain(step.sql, name)
    for observe in STATEMENT_OBSERVERS:
        observe(step, name, params)
    return text
