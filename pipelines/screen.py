"""Screening (rules.md §1–4): ages, benefit place, flags, scope and triggers for month P.

All set-based, in ``sql/screen/``:
``00_state`` (the push state as of the month's seq) → ``01_screened`` (who is screened) →
``05_recompute`` (who is computed afresh) → ``benefit_place`` (§2) → ``10_place_cache`` →
``20_facts`` (§1) → ``30_flags`` (§4, with evidence) → ``40_scope`` (§3) into ``screen_results``
and ``flags`` → ``50_cache_state`` (the push seq and rules the cache now holds).  Recomputing a
month replaces its rows: the screening is a pure function of the push state and the applications.

Incremental months: the month-independent part (benefit place, the flags of the person's row and
segments) is cached per person with the push seq it was computed at
(``sql/warehouse/schema_screen.sql``); a month recomputes it for the persons whose data changed
since, and for everyone when the seq went back or the rules changed (:func:`rules_fingerprint`).
The result is the same as computing everyone (tests/screen/test_screen_cache.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging

from . import SQL_DIR
from .steps import Step, Steps, passes, run_in_passes, run_step, run_steps
from .warehouse import rollback

log = logging.getLogger(__name__)

#: the screening's steps, in order (screen_month runs them; benefit_place in passes, see below)
STEPS = Steps(
    (
        Step("screen/00_state.sql"),
        Step("screen/01_screened.sql"),
        Step("screen/05_recompute.sql"),
        Step("screen/benefit_place.sql"),
        Step("screen/10_place_cache.sql"),
        Step("screen/20_facts.sql"),
        Step("screen/30_flags.sql"),
        Step("screen/40_scope.sql"),
        Step("screen/50_cache_state.sql"),
    )
)


def state_views(con, ctx) -> None:
    """TEMP views ``persons_p``/``segments_p``: the push state at the month's seq (every stage)."""
    run_step(con, STEPS["00_state"], **ctx.params())


# what the cached part of the screening is computed by: any change recomputes everyone
_CACHED_BY = tuple(s.sql for s in STEPS["05_recompute":"30_flags"])


def rules_fingerprint(settings) -> str:
    """A hash of the SQL the cached screening is computed by (policy macros included) and of
    the settings (the person-key secret excepted): a change to either recomputes everyone."""
    h = hashlib.sha256()
    files = sorted(p.relative_to(SQL_DIR).as_posix() for p in (SQL_DIR / "policy").glob("*.sql"))
    for name in files + list(_CACHED_BY):
        h.update(name.encode() + b"\0" + (SQL_DIR / name).read_bytes() + b"\0")
    values = dataclasses.asdict(settings)
    values.pop("person_key_secret", None)
    # how much memory DuckDB takes and where it spills change no result: tuning them recomputes nothing
    for machine in ("duckdb_memory_limit", "duckdb_temp_directory", "duckdb_threads"):
        values.pop(machine, None)
    values.pop("forecast_horizon", None)  # the forecast's, not the screening's
    h.update(repr(sorted(values.items())).encode())
    return h.hexdigest()


def recompute_everyone(con, ctx) -> tuple[bool, int]:
    """Whether the cached screening is unusable for this month's seq; and the seq it was made at
    (-1 when none)."""
    rows = con.execute("SELECT facts_seq, fingerprint FROM screen_cache_state").fetchall()
    if len(rows) != 1:
        return True, -1
    seq, fingerprint = rows[0]
    return (seq > ctx.as_of_seq or fingerprint != rules_fingerprint(ctx.settings)), seq


# persons per pass of sql/screen/benefit_place.sql (issue 19): its windows and per-person lists over
# every segment need memory beyond DuckDB's limit at 5,000,000 persons, so a larger month is computed
# in passes over hash buckets of persons (the rule is per person: the same rows either way)
BENEFIT_PLACE_PERSONS = 1_000_000


def benefit_place(con, persons: int) -> None:
    """TEMP ``benefit_place`` of the persons of ``bp_persons`` (rules.md §2): one pass of
    ``sql/screen/benefit_place.sql``, or one per bucket of at most about
    :data:`BENEFIT_PLACE_PERSONS` persons (``hash(id_no)``), the buckets' rows put together.
    The month's screening calls it, and the declaration screening for the persons of its window
    (``pipelines.declare``): the one implementation of §2."""
    k = passes(persons, BENEFIT_PLACE_PERSONS)
    if k == 1:
        run_step(con, STEPS["benefit_place"])
        return
    con.execute("CREATE OR REPLACE TEMP TABLE _bp_persons_all AS SELECT * FROM bp_persons")
    con.execute("CREATE OR REPLACE TEMP TABLE _bp_segments_all AS SELECT * FROM bp_segments")
    try:
        for b in range(k):
            for name in ("persons", "segments"):
                con.execute(
                    f"CREATE OR REPLACE TEMP VIEW bp_{name} AS SELECT * FROM _bp_{name}_all "
                    f"WHERE hash(id_no) % {k} = {b}"
                )
            run_step(con, STEPS["benefit_place"])
            if b == 0:
                con.execute("CREATE OR REPLACE TEMP TABLE _bp_all AS SELECT * FROM benefit_place")
            else:
                con.execute("INSERT INTO _bp_all SELECT * FROM benefit_place")
        con.execute("CREATE OR REPLACE TEMP TABLE benefit_place AS SELECT * FROM _bp_all")
    finally:
        for name in ("persons", "segments"):  # the views as sql/screen/05_recompute.sql left them
            con.execute(f"CREATE OR REPLACE TEMP VIEW bp_{name} AS SELECT * FROM _bp_{name}_all")
        con.execute("DROP TABLE IF EXISTS _bp_all")


# persons per pass of sql/screen/40_scope.sql (issue 19): 25,000,000 persons in one insert into
# screen_results ran out of DuckDB's 1 GB in an INCR month (the transaction holding the caches'
# changes besides); five passes of 5,000,000 took 13–17 s each, within it
SCOPE_PERSONS = 5_000_000


def scope(con, params: dict) -> None:
    """``screen_results`` of month P (rules.md §3): one pass of ``sql/screen/40_scope.sql``, or one per
    bucket of at most about :data:`SCOPE_PERSONS` persons of ``facts`` (``hash(id_no)``)."""
    persons = con.execute("SELECT count(*) FROM facts").fetchall()[0][0]
    run_in_passes(con, STEPS["40_scope"], persons, SCOPE_PERSONS, **params)


def screen_month(con, ctx, *, validate: bool = True) -> dict:
    """Screen everyone in the push (and every open ledger entry) for month P, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        full, cached_seq = recompute_everyone(con, ctx)
        params = ctx.params(
            full=full,
            cached_seq=cached_seq,
            place_evidence_expr="bp.acc_months",
            fingerprint=rules_fingerprint(ctx.settings),
        )
        run_steps(con, STEPS["00_state":"05_recompute"], **params)
        recomputed = con.execute("SELECT count(*) FROM to_compute").fetchall()[0][0]
        benefit_place(con, recomputed)
        run_steps(con, STEPS["10_place_cache":"30_flags"], **params)
        scope(con, params)
        run_step(con, STEPS["50_cache_state"], **params)
        counts = dict(
            zip(
                ("screened", "in scope", "trigger push", "trigger application", "trigger screening", "flagged"),
                con.execute(
                    "SELECT count(*), count(scope_rule), count(*) FILTER (trigger_push), "
                    "count(*) FILTER (trigger_application), count(*) FILTER (trigger_screening), "
                    "count(*) FILTER (flags <> '') FROM screen_results WHERE month_mi = ?",
                    [ctx.month_mi],
                ).fetchall()[0],
            )
        )
        counts["computed afresh"] = recomputed
        if validate:
            from .validate import validate_frames

            from .validate import sample_clause

            frame = con.execute(
                "SELECT id_no, office_code, insurance_type, scope_rule, original_age_mi, statutory_age_mi, "
                "benefit_province FROM screen_results WHERE month_mi = ? AND "
                + sample_clause(counts["screened"], ctx.settings),
                [ctx.month_mi],
            ).df()
            # O − P in pandas, apart from the SQL that decided the scope, so the window checks can fail
            frame["to_original"] = frame["original_age_mi"] - ctx.month_mi
            validate_frames(
                "screen",
                {"screen_results": frame},
                _vdir(ctx),
                label=ctx.month,
                settings=ctx.settings,
                populations={"screen_results": counts["screened"]},
            )
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    log.info("screened %s: %s", ctx.month, counts)
    return counts


def _vdir(ctx):
    return (ctx.out / ctx.month / "validation") if ctx.out else None
