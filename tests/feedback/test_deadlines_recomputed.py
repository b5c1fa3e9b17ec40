"""An objection deadline follows the calendar as it is now (rules.md §7: working days less
Ningxia's own holidays, 开斋节 and 古尔邦节). A deadline computed while the overrides file had no
regional rows for its year (national calendar, with a warning) is computed again once they are
entered: an objection filed on a day that is in time on the completed calendar is accepted, and
the worklist's deadline moves. Found by an adversarial probe (thirteenth session): the stored
deadline was never revisited, so an objection in time was refused LATE_OBJECTION."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from pipelines import workdays
from support.feedback import Wh, path_rows, row


@pytest.fixture
def wh(tmp_path):
    return Wh(tmp_path)


def _deadline(wh):
    return wh.q("SELECT objection_deadline, deadline_status FROM conclusions WHERE superseded_on IS NULL")


def test_a_deadline_computed_before_the_regional_holidays_were_entered_is_computed_again(wh, tmp_path, monkeypatch):
    p = wh.person(opened=2026 * 12 + 4)
    rep = wh.apply(path_rows(p, "RESULT_RECEIVED", date(2026, 5, 11)))
    assert rep.refused == 0, rep.lines()
    [(before, status)] = _deadline(wh)
    assert status == "SET"
    cal = tmp_path / "overrides.csv"
    shutil.copy(workdays.OVERRIDES_FILE, cal)
    with open(cal, "a", encoding="utf-8") as fh:
        fh.write("2026-03-20,holiday,ningxia,开斋节\n2026-05-27,holiday,ningxia,古尔邦节\n")
        fh.write("2026-05-28,holiday,ningxia,古尔邦节\n2026,complete,ningxia,test notice\n")
    monkeypatch.setattr(workdays, "OVERRIDES_FILE", cal)
    received = wh.q("SELECT received_on FROM conclusions WHERE superseded_on IS NULL")[0][0]
    now = workdays.add_working_days(received, wh.settings.objection_working_days)
    assert now > before  # the two holidays fall inside the window
    # an objection on the last day of the completed calendar, after the old deadline
    rep = wh.apply([row(p, "OBJECTION_FILED", now)])
    assert rep.refused == 0, rep.lines()
    assert _deadline(wh) == [(now, "SET")]
    assert wh.q("SELECT count(*) FROM objections")[0][0] == 1


def test_deadlines_unchanged_on_an_unchanged_calendar_are_left_alone(wh):
    from pipelines.feedback.deadlines import refresh_deadlines

    p = wh.person()
    assert wh.apply(path_rows(p, "RESULT_RECEIVED")).refused == 0
    before = _deadline(wh)
    with wh.con() as con:
        assert refresh_deadlines(con, wh.settings) == 0
    assert _deadline(wh) == before
