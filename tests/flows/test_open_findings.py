"""Open findings of the thirteenth session's adversarial probes, pinned as strict expected failures
(the project's way: a fix turns the test into an unexpected pass, which fails until its mark goes).
Each says what should happen by the spec; docs/status.md and the session's closing note say why it
is not fixed yet. The scripts that found them ran whole month sequences; these are the smallest
reproductions."""

from __future__ import annotations

import pytest

from support.ledger import Push, correction_push, run_push_month
from support.pushkit import person

OPEN = "open finding (thirteenth session): see docs/status.md"


def _kinds(push: Push, id_no: str) -> set[tuple[str, int]]:
    return set(push.q("SELECT kind, reference_mi FROM notice_log WHERE id_no = ?", [id_no]))


def test_a_person_between_the_original_age_and_s_comes_back_after_one_wrong_month(tmp_path):
    """rules.md §3 ("once in the ledger … stays") and §5: a woman worker born 1976-03 (O 2026-03,
    S 2026-11) in the ledger, absent from 2026-04's FULL only, must be taken in again and get her
    AGE_MINUS_3 in 2026-08 (fixed in the same session: sql/ledger/30_open.sql takes her in again)."""
    push = Push(tmp_path)
    w = person(1, gender=2, birth_date="19760315", person_type="1")
    for m in ("2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08"):
        run_push_month(push, m, [] if m == "2026-04" else [w])
    assert ("AGE_MINUS_3", 2026 * 12 + 7) in _kinds(push, w["id_no"])


def test_a_month_whose_run_was_skipped_does_not_lose_its_reminders(tmp_path):
    """rules.md §5 (every reminder sent): 2025-01 run, no run of 2025-02, then 2025-03: the man
    born 1965-01 (S 2025-02) gets AGE_REACHED, or `run 2025-03` is refused until 2025-02 is run
    (fixed in the next session: 2025-03's run catches up 2025-02's reminders, docs/decisions.md
    "Skipped months: reminders caught up"; tests/notify/test_skipped_months.py)."""
    push = Push(tmp_path)
    a = person(1, gender=1, birth_date="19650110")
    run_push_month(push, "2025-01", [a])
    try:
        run_push_month(push, "2025-03", [a])
    except Exception:  # a refusal is a fix too
        return
    assert "AGE_REACHED" in {k for k, _ in _kinds(push, a["id_no"])}


def test_a_reminder_deferred_by_a_rerun_does_not_say_this_month_of_a_month_gone(tmp_path):
    """rules.md §5: AGE_REACHED says 您已于本月（…）达到法定退休年龄. 2025-08 is run and published;
    a correction push of 2025-08 sets the birth to 1965-06 (S 2025-08) and 2025-08 is run again:
    the AGE_REACHED it raises goes out with 2025-09's batch, where "本月" would be wrong: it names
    2025-08 as a month gone (fixed in the same session: the texts are rendered for the batch's month)."""
    push = Push(tmp_path)
    a = person(1, gender=1, birth_date="19650910", arrears_months=2)
    run_push_month(push, "2025-08", [a])
    correction_push(push, "2025-08", [dict(a, birth_date="19650610")])
    texts = [t for (t,) in push.q("SELECT text FROM notice_log WHERE id_no = ? AND kind = 'AGE_REACHED'", [a["id_no"]])]
    assert texts and all("本月" not in t and "您已于2025年8月达到法定退休年龄" in t for t in texts)


@pytest.mark.parametrize("sent_in, said", [(0, "您已于本月（2025年8月）"), (1, "您已于2025年8月达到")])
def test_age_reached_says_this_month_only_in_the_month_it_names(sent_in, said):
    from pipelines import notify
    from pipelines.settings import load_settings

    s_mi = 2025 * 12 + 7
    context = {
        "insurance_type": 110,
        "statutory_age_mi": s_mi,
        "statutory_age_month": "2025年8月",
        "benefit_start_month": "2025年9月",
        "office_short": "X",
        "office_phone": "0951-0000104",
        "month_mi": s_mi + sent_in,
    }
    assert said in notify.render_notice("AGE_REACHED", context, load_settings(), "abc")
