"""A person's office or benefit place changing between months, and a correction push of a month
already run that changes it again (rules.md §2 handovers, §3 responsible office; outputs.md
handovers/, letters/<office>/, "an office never receives another office's persons").

Found by an adversarial probe (fourteenth session): P's first run moved X from 640104 to 640105
(a handover 640104 -> 640105, a coordination letter in 640105's folder); a correction push of P
put X at 640106 (or back at 640104) and P's rerun moved the entry there, but the handover key
(month, person, kind) was taken, so the month's handovers still said 640104 -> 640105, the new
office was told nothing and 640105's letters folder kept a letter about a person it no longer holds."""

from __future__ import annotations

import duckdb
import pytest

from support.ledger import Push, correction_push, run_push_month
from support.pushkit import person

DEC = 24323


def _handovers(push: Push, month: str) -> list[tuple]:
    f = push.tmp / "out" / month / "handovers" / "handovers.parquet"
    return duckdb.sql(f"SELECT id_no, kind, from_code, to_code, reason FROM '{f}'").fetchall()


def _letters(push: Push, month: str) -> dict[str, list[str]]:
    """office folder -> the letters' texts"""
    base = push.tmp / "out" / month / "letters"
    return {d.name: [f.read_text(encoding="utf-8") for f in sorted(d.glob("*.html"))] for d in base.glob("*")}


def _worklist_office(push: Push, month: str, id_no: str) -> list[str]:
    base = push.tmp / "out" / month / "worklists"
    return [
        d.name
        for d in sorted(base.iterdir())
        if duckdb.sql(f"SELECT count(*) FROM '{d}/worklist.parquet' WHERE id_no = '{id_no}'").fetchall()[0][0]
    ]


@pytest.fixture(params=["640106", "640104"], ids=["on-to-a-third-office", "back-to-the-first-office"])
def corrected_move(request, tmp_path):
    """X (640104) in scope in November; December's push moves X to 640105 and December is run;
    a correction push of December puts X at ``request.param`` and December is run again."""
    push = Push(tmp_path)
    x, z = person(1, birth_date="19670315"), person(3, birth_date="19670515")  # O 2027-03, 2027-05
    run_push_month(push, "2026-11", [x, z])
    run_push_month(push, "2026-12", [dict(x, insured_region="640105"), z])
    assert _worklist_office(push, "2026-12", x["id_no"]) == ["640105"]
    assert [h[1:4] for h in _handovers(push, "2026-12")] == [("OFFICE_CHANGE", "640104", "640105")]
    assert len(_letters(push, "2026-12")["640105"]) == 1
    correction_push(push, "2026-12", [dict(x, insured_region=request.param), z])
    return push, x["id_no"], request.param


def test_the_rerun_hands_the_person_to_the_office_that_now_lists_him(corrected_move):
    push, x, office = corrected_move
    assert _worklist_office(push, "2026-12", x) == [office]
    (h,) = [h for h in _handovers(push, "2026-12") if h[0] == x]
    # the month's handover ends where the person is, and says that the earlier run had him at 640105
    assert h[3] == office, f"handover {h[2]} -> {h[3]} but the entry is at {office}"
    assert "640105" in h[4]
    assert h[2] == "640104"  # handed over from the office of the month before (where the pre-review is)


def test_no_office_keeps_a_letter_about_a_person_it_no_longer_holds(corrected_move):
    push, x, office = corrected_move
    letters = _letters(push, "2026-12")
    assert not any(x in text for text in letters.get("640105", [])), "640105 keeps a letter about X"
    stored = push.q("SELECT sender, recipient FROM coordination_letters WHERE id_no = ? AND first_mi = ?", [x, DEC])
    if office == "640104":  # back where the pre-review is: nobody to ask
        assert stored == []
    else:  # the new office asks the office of the month before
        assert stored == [("640106", "640104")]
        assert any(x in text for text in letters["640106"])
