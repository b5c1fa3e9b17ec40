"""The screening cache (pipelines/screen.py, sql/warehouse/schema_screen.sql): a month computes
afresh only the persons whose data changed since the cached seq, and its results are exactly
those of computing everyone."""

from __future__ import annotations

import dataclasses

from pipelines import DATA_DIR, screen
from pipelines.ingest import ingest_batches, load_applications
from pipelines.monthly import month_context, run_month
from pipelines.settings import load_settings
from pipelines.warehouse import connect
from support.pushkit import person, segment, write_batch

SAMPLE = DATA_DIR / "sample"


def _screen(con, month: str, settings):
    ctx = month_context(con, month, settings)
    counts = screen.screen_month(con, ctx, validate=False)
    mi = ctx.month_mi
    results = con.execute(f"SELECT * FROM screen_results WHERE month_mi = {mi} ORDER BY id_no").fetchall()
    flags = con.execute(f"SELECT id_no, code, evidence FROM flags WHERE month_mi = {mi} ORDER BY ALL").fetchall()
    return counts, results, flags


def _cached_then_whole(con, month: str, settings):
    """Screen ``month`` with the cache, then again computing everyone; both results."""
    cached = _screen(con, month, settings)
    con.execute("DELETE FROM screen_cache_state")
    whole = _screen(con, month, settings)
    return cached, whole


def test_only_changed_persons_are_computed_and_results_equal_a_whole_computation(tmp_path):
    p1 = person(1)
    p2 = person(2, birth_date="19660915")
    p3 = person(3, hukou_region="", birth_date="19670101")
    p4 = person(4, insurance_type=170, person_type="", birth_date="19660601")
    p5 = person(5, birth_date="19661001")
    persons = [p1, p2, p3, p4, p5]
    segs = [segment(p["id_no"]) for p in persons] + [
        segment(p2["id_no"], region="620100", start="202101", end="202606")
    ]
    wh = tmp_path / "w.duckdb"
    assert ingest_batches([write_batch(tmp_path / "b1", persons, segs)], wh).applied
    # INCR: p2 keeps its row but its segments now overlap across provinces (DUPLICATE_CONTRIBUTION),
    # p3 gets a hukou region (KEY_INFO_MISSING goes), p5 is deleted (leaves the push); p1, p4 unchanged
    incr_persons = [dict(p2, op="U"), dict(p3, op="U", hukou_region="640104"), dict(p5, op="D")]
    incr_segs = [
        segment(p2["id_no"]),
        segment(p2["id_no"], region="620100", start="201901", end="202606"),
        segment(p3["id_no"]),
    ]
    b2 = write_batch(tmp_path / "b2", incr_persons, incr_segs, seq=2, push_type="INCR", base_seq=1, month="2026-12")
    s = load_settings()
    with connect(wh, settings=s) as con:
        first = _screen(con, "2026-11", s)
        assert first[0]["computed afresh"] == 5  # no cache yet: everyone
    assert ingest_batches([b2], wh).applied
    with connect(wh, settings=s) as con:
        (c_counts, c_results, c_flags), (w_counts, w_results, w_flags) = _cached_then_whole(con, "2026-12", s)
    # p2 and p3; p5 left the push and has no open ledger entry here, so it is not screened
    assert c_counts["computed afresh"] == 2
    assert p5["id_no"] not in {r[1] for r in c_results}
    assert w_counts["computed afresh"] == w_counts["screened"]
    assert c_results == w_results and c_flags == w_flags
    codes = {(i, c) for i, c, _ in c_flags}
    assert (p2["id_no"], "DUPLICATE_CONTRIBUTION") in codes
    assert (p3["id_no"], "KEY_INFO_MISSING") not in codes


def _one_full(tmp_path, n: int):
    """A warehouse with one FULL of ``n`` persons (born 1966-01 … with one segment each)."""
    persons = [person(k, birth_date=f"1966{k:02d}10") for k in range(1, n + 1)]
    wh = tmp_path / "w.duckdb"
    ingest_batches([write_batch(tmp_path / "b1", persons, [segment(p["id_no"]) for p in persons])], wh)
    return wh


def test_a_rerun_of_the_same_month_computes_nobody_afresh(tmp_path):
    wh = _one_full(tmp_path, 5)
    s = load_settings()
    with connect(wh, settings=s) as con:
        a = _screen(con, "2026-11", s)
        b = _screen(con, "2026-11", s)
    assert b[0]["computed afresh"] == 0 and a[1:] == b[1:]


def test_changed_rules_or_an_earlier_seq_recompute_everyone(tmp_path):
    wh = _one_full(tmp_path, 3)
    s = load_settings()
    with connect(wh, settings=s) as con:
        _screen(con, "2026-11", s)
        ctx = month_context(con, "2026-11", s)
        assert screen.recompute_everyone(con, ctx) == (False, 1)
        changed = dataclasses.replace(s, flexible_women_original_age=s.flexible_women_original_age + 1)
        assert screen.recompute_everyone(con, dataclasses.replace(ctx, settings=changed))[0]
        assert screen.recompute_everyone(con, dataclasses.replace(ctx, as_of_seq=0))[0]
        # the secret is not part of the fingerprint (and never stored)
        assert screen.rules_fingerprint(dataclasses.replace(s, person_key_secret="other")) == screen.rules_fingerprint(
            s
        )
        assert s.person_key_secret not in con.execute("SELECT fingerprint FROM screen_cache_state").fetchall()[0][0]
        # nor is DuckDB's memory or spill folder (issue 19): tuning the machine recomputes nothing
        assert screen.rules_fingerprint(
            dataclasses.replace(s, duckdb_memory_limit="3GB", duckdb_temp_directory="/elsewhere")
        ) == screen.rules_fingerprint(s)


def test_sample_incr_month_cached_equals_whole(tmp_path):
    wh = tmp_path / "w.duckdb"
    assert ingest_batches([SAMPLE / "push" / "2026-11-full"], wh).applied
    load_applications(sorted((SAMPLE / "applications").glob("*.csv")), wh)
    run_month("2026-11", wh, tmp_path / "out", validate=False)
    assert ingest_batches([SAMPLE / "push" / "2026-12-incr"], wh).applied
    s = load_settings()
    with connect(wh, settings=s) as con:
        (c_counts, c_results, c_flags), (w_counts, w_results, w_flags) = _cached_then_whole(con, "2026-12", s)
    assert 0 < c_counts["computed afresh"] < w_counts["computed afresh"] == w_counts["screened"]
    assert c_results == w_results
    assert c_flags == w_flags


def test_a_second_full_push_cached_equals_whole(tmp_path):
    """A FULL replaces the population: persons absent leave the push, changed rows and segment
    sets get versions; the cached month still equals computing everyone."""
    persons = [person(n, birth_date=f"1966{n:02d}10") for n in range(1, 9)]
    segs = [segment(p["id_no"]) for p in persons]
    wh = tmp_path / "w.duckdb"
    assert ingest_batches([write_batch(tmp_path / "b1", persons, segs)], wh).applied
    s = load_settings()
    with connect(wh, settings=s) as con:
        _screen(con, "2026-11", s)
    # second FULL: person 8 absent, person 1 with arrears, person 2 with a pending deemed period,
    # person 3 with an unmerged segment elsewhere; 4..7 as before
    p2 = [
        dict(persons[0], arrears_months="6"),
        dict(persons[1], deemed_status="2", deemed_months="24", deemed_region="640104"),
    ] + persons[2:7]
    s2 = [segment(p["id_no"]) for p in p2] + [
        segment(persons[2]["id_no"], region="610100", start="202101", end="202212", status=2)
    ]
    assert ingest_batches([write_batch(tmp_path / "b2", p2, s2, seq=2, month="2026-12")], wh).applied
    with connect(wh, settings=s) as con:
        (c_counts, c_results, c_flags), (w_counts, w_results, w_flags) = _cached_then_whole(con, "2026-12", s)
    assert c_counts["computed afresh"] == 3
    assert c_results == w_results and c_flags == w_flags
    codes = {(i, c) for i, c, _ in c_flags}
    assert {
        (persons[0]["id_no"], "ARREARS"),
        (persons[1]["id_no"], "YEARS_UNCONFIRMED"),
        (persons[2]["id_no"], "REMOTE_UNMERGED"),
    } <= codes
    assert persons[7]["id_no"] not in {r[1] for r in c_results}


def test_generated_chain_of_incr_months_cached_equals_whole(tmp_path):
    """Three months of generated pushes (FULL, then INCRs of all kinds of change on top of each
    other); each month, the cached screening of the running warehouse equals computing everyone
    in a copy of it."""
    import shutil

    from pipelines.sample import generate_batch

    full = tmp_path / "b1"
    generate_batch(full, persons=2000, month="2026-11", seed=5)
    i1, i2 = tmp_path / "b2", tmp_path / "b3"
    generate_batch(i1, month="2026-12", seed=6, incr_from=full, changes=300)
    generate_batch(i2, month="2027-01", seed=7, incr_from=i1, changes=200)
    wh = tmp_path / "w.duckdb"
    s = load_settings()
    for batch, month in ((full, "2026-11"), (i1, "2026-12"), (i2, "2027-01")):
        assert ingest_batches([batch], wh).applied
        whole = tmp_path / f"whole-{month}.duckdb"
        shutil.copyfile(wh, whole)
        rep = run_month(month, wh, tmp_path / "out", validate=False)
        with connect(wh, settings=s) as con:
            mi = month_context(con, month, s, replay=True).month_mi
            cached = (
                con.execute(f"SELECT * FROM screen_results WHERE month_mi = {mi} ORDER BY id_no").fetchall(),
                con.execute(f"SELECT id_no, code, evidence FROM flags WHERE month_mi = {mi} ORDER BY ALL").fetchall(),
            )
        with connect(whole, settings=s) as con:
            con.execute("DELETE FROM screen_cache_state")
            _, *w = _screen(con, month, s)
        assert cached == tuple(w), month
        if month != "2026-11":
            assert 0 < rep.counts["computed afresh"] < rep.counts["screened"]
