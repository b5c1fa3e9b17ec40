"""Screening (rules.md §1–4): ages, benefit place, flags, scope and triggers for month P.

All set-based, in ``sql/screen/``:
``00_state`` (the push state as of the month's seq) → ``benefit_place`` (§2) →
``20_facts`` (§1) → ``30_flags`` (§4, with evidence) → ``40_scope`` (§3) into
``screen_results`` and ``flags``.  Recomputing a month replaces its rows: the
screening is a pure function of the push state and the applications.
"""

from __future__ import annotations

import logging

from .warehouse import run_sql

log = logging.getLogger(__name__)


def state_views(con, ctx) -> None:
    """TEMP views ``persons_p``/``segments_p`` (push state at the month's seq) and ``screened``."""
    run_sql(con, "screen/00_state.sql", **ctx.params())


def screen_month(con, ctx, *, validate: bool = True) -> dict:
    """Screen everyone in the push (and every open ledger entry) for month P, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        state_views(con, ctx)
        run_sql(con, "screen/benefit_place.sql", **ctx.params())
        run_sql(con, "screen/20_facts.sql", **ctx.params(place_evidence_expr="bp.acc_months"))
        run_sql(con, "screen/30_flags.sql", **ctx.params())
        run_sql(con, "screen/40_scope.sql", **ctx.params())
        counts = dict(zip(
            ("screened", "in scope", "trigger push", "trigger application", "trigger screening", "flagged"),
            con.execute(
                "SELECT count(*), count(scope_rule), count(*) FILTER (trigger_push), "
                "count(*) FILTER (trigger_application), count(*) FILTER (trigger_screening), "
                "count(*) FILTER (flags <> '') FROM screen_results WHERE month_mi = ?", [ctx.month_mi]
            ).fetchone(),
        ))
        if validate:
            from .validate import validate_frames

            from .validate import sample_clause

            frame = con.execute(
                "SELECT id_no, office_code, scope_rule IS NOT NULL AS in_scope, original_age_mi, statutory_age_mi, "
                "benefit_province FROM screen_results WHERE month_mi = ? AND "
                + sample_clause(counts["screened"], ctx.settings), [ctx.month_mi]).df()
            validate_frames("screen", {"screen_results": frame}, _vdir(ctx), label=ctx.month, settings=ctx.settings)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log.info("screened %s: %s", ctx.month, counts)
    return counts


def _vdir(ctx):
    return (ctx.out / ctx.month / "validation") if ctx.out else None
