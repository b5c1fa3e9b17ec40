"""The push inbox's sensor and the guard against a month run twice (pipelines/arrival.py, issue 20 item 3).

* a batch being copied (manifest first, files partial; or files first, manifest last) never
  fires the sensor; it fires once the batch is complete, once; a corrected copy fires again;
* an automatic run of a month that already ran on the current push is a no-op; a new batch,
  a new application, a failed run make it due again; a month before the last one is never rerun
  automatically.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest
from support.pushkit import person, population, segment, write_batch

from pipelines.arrival import (
    arrivals_file,
    automatic_run_due,
    complete_batches,
    mark_announced,
    month_of_arrivals,
    new_complete_batches,
)
from pipelines.ingest import ingest_batches
from pipelines.monthly import run_month


def _copy_in_steps(src, dst):
    """Yield after each step of a slow copy: manifest first, then each file in two halves."""
    dst.mkdir(parents=True)
    yield "empty folder"
    shutil.copy2(src / "manifest.json", dst / "manifest.json")
    yield "manifest only"
    files = sorted(p for p in src.iterdir() if p.name != "manifest.json")
    for f in files:
        data = f.read_bytes()
        (dst / f.name).write_bytes(data[: len(data) // 2])
        yield f"{f.name} half"
        with open(dst / f.name, "ab") as fh:
            fh.write(data[len(data) // 2 :])
        yield f"{f.name} whole"


def test_a_batch_being_copied_never_fires_the_sensor(tmp_path):
    people, segs = population(3)
    src = write_batch(tmp_path / "src" / "b1", people, segs, seq=1)
    inbox, wh = tmp_path / "inbox", tmp_path / "w.duckdb"
    inbox.mkdir()
    fired = []
    for step in _copy_in_steps(src, inbox / "2026-11-full"):
        found = new_complete_batches(inbox, wh)
        fired.append((step, [b["batch_id"] for b in found]))
    # only the last step (every file whole) fires
    assert [s for s, f in fired if f] == ["segments.csv whole"], fired
    (batch,) = new_complete_batches(inbox, wh)
    assert (batch["folder"], batch["seq"], batch["data_month"]) == ("2026-11-full", 1, "2026-11")
    mark_announced([batch], wh)
    assert new_complete_batches(inbox, wh) == []  # announced once
    assert arrivals_file(wh).read_text(encoding="utf-8").count("\n") == 1


def test_files_first_manifest_last_fires_only_with_the_manifest(tmp_path):
    people, segs = population(2)
    src = write_batch(tmp_path / "src", people, segs, seq=1)
    inbox, wh = tmp_path / "inbox", tmp_path / "w.duckdb"
    dst = inbox / "b"
    dst.mkdir(parents=True)
    for f in ("persons.csv", "segments.csv"):
        shutil.copy2(src / f, dst / f)
    assert new_complete_batches(inbox, wh) == []
    # a manifest written in place, still partial (the copy of manifest.json itself in progress)
    data = (src / "manifest.json").read_bytes()
    (dst / "manifest.json").write_bytes(data[:40])
    assert new_complete_batches(inbox, wh) == []
    (dst / "manifest.json").write_bytes(data)
    assert [b["folder"] for b in new_complete_batches(inbox, wh)] == ["b"]


def test_a_corrected_copy_is_a_new_arrival_and_a_broken_one_never_fires(tmp_path):
    inbox, wh = tmp_path / "inbox", tmp_path / "w.duckdb"
    people, segs = population(2)
    write_batch(inbox / "a", people, segs, seq=1)
    mark_announced(new_complete_batches(inbox, wh), wh)
    write_batch(inbox / "a", people[:1], segs[:2], seq=1)  # the Ministry re-sends the folder corrected
    assert [b["folder"] for b in new_complete_batches(inbox, wh)] == ["a"]
    broken = write_batch(inbox / "c", people, segs, seq=2, push_type="INCR", base_seq=1, month="2026-12")
    (broken / "persons.csv").write_bytes((broken / "persons.csv").read_bytes() + b"\n")  # hash never matches
    assert [b["folder"] for b in complete_batches(inbox)] == ["a"]
    write_batch(inbox / "d", people, segs, seq=3, push_type="INCR", base_seq=1, month="2026-12")
    found = new_complete_batches(inbox, wh)
    assert [b["seq"] for b in found] == [1, 3] and month_of_arrivals(found) == "2026-12"
    assert month_of_arrivals([]) is None


def test_an_empty_or_missing_inbox_is_quiet(tmp_path):
    assert new_complete_batches(tmp_path / "nowhere", tmp_path / "w.duckdb") == []
    assert complete_batches(tmp_path) == []


# ------------------------------------------------------------------ a month never runs twice


@pytest.fixture()
def ran_november(tmp_path):
    people = [person(n, birth_date=b) for n, b in enumerate(("19661015", "19640510", "19710201"), 1)]
    segs = [segment(p["id_no"]) for p in people]
    wh, out = tmp_path / "w.duckdb", tmp_path / "out"
    write_batch(tmp_path / "b1", people, segs, seq=1)
    assert not ingest_batches([tmp_path / "b1"], wh).refused
    assert automatic_run_due("2026-11", wh) == (True, "month 2026-11: not run yet")
    run_month("2026-11", wh, out, validate=False)
    return dict(wh=wh, out=out, people=people, segs=segs, tmp=tmp_path)


def test_both_fired_the_second_automatic_run_is_a_no_op(ran_november):
    due, reason = automatic_run_due("2026-11", ran_november["wh"])
    assert not due and "already ran on push seq 1" in reason


def test_a_correction_push_or_a_late_application_makes_the_month_due_again(ran_november):
    wh, t = ran_november["wh"], ran_november["tmp"]
    con = duckdb.connect(str(wh))
    # an application loaded just after the month's run finished
    con.execute(
        "INSERT INTO applications SELECT ?, 1, DATE '2026-11-20', 'window', '640104', 'late.csv', "
        "max(finished_at) + INTERVAL 1 MILLISECOND FROM month_runs",
        [ran_november["people"][0]["id_no"]],
    )
    con.close()
    assert automatic_run_due("2026-11", wh) == (True, "month 2026-11: 1 application(s) loaded since its run")
    run_month("2026-11", wh, ran_november["out"], validate=False)
    assert not automatic_run_due("2026-11", wh)[0]
    changed = dict(ran_november["people"][0], op="U", phone="13912345679")
    write_batch(t / "b2", [changed], [], seq=2, push_type="INCR", base_seq=1)
    assert not ingest_batches([t / "b2"], wh).refused
    assert automatic_run_due("2026-11", wh) == (True, "month 2026-11: run on push seq 1, seq 2 applied since")


def test_a_failed_run_is_due_and_an_earlier_month_is_never_rerun_automatically(ran_november):
    wh = ran_november["wh"]
    con = duckdb.connect(str(wh))
    con.execute("INSERT INTO month_runs VALUES (2026 * 12 + 11, 'run', 1, false, now(), now(), 'FAILED')")
    con.close()
    assert automatic_run_due("2026-12", wh) == (True, "month 2026-12: not run yet")
    run_month("2026-12", wh, ran_november["out"], validate=False)
    due, reason = automatic_run_due("2026-11", wh)
    assert not due and "before the last month run (2026-12)" in reason
    assert automatic_run_due("2027-01", wh)[0]
    assert automatic_run_due("2026-11", wh.with_name("none.duckdb")) == (True, "month 2026-11: no warehouse yet")


def test_a_fallback_run_that_meets_a_batch_mid_copy_refuses_it_and_the_complete_batch_applies_later(tmp_path):
    """The 02:00 fallback's ingest sees the batch half copied: refused, nothing applied; the copy
    completes, the sensor fires, and the same folder is applied."""
    people, segs = population(3)
    src = write_batch(tmp_path / "src", people, segs, seq=1)
    inbox, wh = tmp_path / "inbox", tmp_path / "w.duckdb"
    steps = _copy_in_steps(src, inbox / "b")
    for step in steps:
        if step == "persons.csv half":
            break
    report = ingest_batches([inbox / "b"], wh)
    assert report.refused and "sha256" in str(report.refused[0]) and not report.applied
    for _ in steps:  # the rest of the copy
        pass
    assert [b["folder"] for b in new_complete_batches(inbox, wh)] == ["b"]
    report = ingest_batches([inbox / "b"], wh)
    assert not report.refused and [a["seq"] for a in report.applied] == [1]
