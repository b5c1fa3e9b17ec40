"""Notices (rules.md §5): reminders, generic issuing, channels, files, letters (pipelines.notify)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from pipelines import notify
from pipelines.identifiers import id_check_char
from pipelines.policy import month_index
from pipelines.settings import load_settings
from pipelines.warehouse import connect, person_key
from support.pushkit import read_vectors

P = month_index(2026, 3)  # the processing month of most tests
SETTINGS = load_settings().with_overrides(person_key_secret="test-key-notify", overdue_every_months=3)
OFFICE = "640104"
OTHER_OFFICE = "640521"

PERSONS_DDL = """
CREATE OR REPLACE TABLE persons_p (
    id_no VARCHAR, name VARCHAR, gender TINYINT, insurance_type SMALLINT, person_type TINYINT,
    hukou_region VARCHAR, employer_uscc VARCHAR, employer_name VARCHAR, phone VARCHAR,
    insured_region VARCHAR, survival_status TINYINT, retired BOOLEAN)
"""


def make_id(n: int, gender: int = 1) -> str:
    seq = (n * 2 + (1 if gender == 1 else 0)) % 1000
    first17 = f"640104196603{(n % 28) + 1:02d}{seq:03d}"
    return first17 + id_check_char(first17)


@pytest.fixture
def con(tmp_path):
    with connect(tmp_path / "w.duckdb", settings=SETTINGS) as c:
        c.execute(PERSONS_DDL)
        yield c


def add_person(
    con,
    n: int,
    *,
    s_mi: int,
    months=(P,),
    opened_mi: int = P - 2,
    office: str = OFFICE,
    insurance_type: int = 110,
    phone: str | None = "13912345678",
    employer_uscc: str | None = None,
    employer_name: str | None = "宁夏测试有限公司",
    survival_status: int = 1,
    retired: bool = False,
    closed_mi: int | None = None,
    stage: str = "NOTIFIED",
    hukou_region: str | None = "640104",
    pre_review_office: str | None = None,
    elected_mi: int | None = None,
    name: str | None = None,
) -> dict:
    """One person: persons_p row, screen_results for each month of ``months``, one ledger entry."""
    id_no = make_id(n)
    name = name or f"测试{n}"
    con.execute("DELETE FROM persons_p WHERE id_no = ?", [id_no])
    con.execute(
        "INSERT INTO persons_p VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            id_no,
            name,
            insurance_type,
            2 if insurance_type == 110 else None,
            hukou_region,
            employer_uscc,
            employer_name,
            phone,
            office,
            survival_status,
            retired,
        ],
    )
    for m in months:
        con.execute(
            """INSERT INTO screen_results (month_mi, id_no, office_code, insurance_type, gender, person_type,
                   birth_mi, original_age_mi, statutory_age_mi, delay_months, benefit_start_mi,
                   flexible_earliest_mi, flexible_latest_mi, min_contribution_months, counted_months,
                   projected_months, benefit_province, place_rule, alive, retired, in_push,
                   trigger_push, trigger_application, trigger_screening, flags)
               VALUES (?, ?, ?, ?, 1, 2, ?, ?, ?, 0, ?, ?, ?, 180, 300, 300, '640000', 'R1_HUKOU',
                       ?, ?, true, true, false, false, '')""",
            [
                m,
                id_no,
                office,
                insurance_type,
                s_mi - 60 * 12,
                s_mi,
                s_mi,
                s_mi + 1,
                s_mi - 36 if insurance_type == 110 else None,
                s_mi + 36 if insurance_type == 110 else None,
                survival_status != 2,
                retired,
            ],
        )
    entry_id = f"{person_key(id_no, SETTINGS)}-{opened_mi}"
    con.execute(
        """INSERT INTO ledger_entries (entry_id, id_no, office_code, opened_mi, opened_by, officer_id, stage,
               stage_since, closed_mi, close_reason, elected_retirement_mi, pre_review_office)
           VALUES (?, ?, ?, ?, 'PUSH', ?, ?, DATE '2026-01-01', ?, ?, ?, ?)""",
        [
            entry_id,
            id_no,
            office,
            opened_mi,
            f"{office}-01",
            stage,
            closed_mi,
            "RETIRED" if closed_mi is not None else None,
            elected_mi,
            pre_review_office,
        ],
    )
    return {"id_no": id_no, "entry_id": entry_id, "name": name}


def notices(con, month=None):
    q = "SELECT id_no, kind, reference_mi, channel, phone, segments, offline_reason, text, office_code FROM notice_log"
    if month is not None:
        q += f" WHERE issued_mi = {month}"
    return con.execute(q + " ORDER BY id_no, kind, reference_mi").fetchall()


def kinds_of(con, id_no, month=None):
    return sorted((k, r) for i, k, r, *_ in notices(con, month) if i == id_no)


def read_csv_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


# ----------------------------------------------------------------------------- segments


@pytest.mark.parametrize("n, expected", [(6, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4), (500, 8)])
def test_sms_segments_by_exact_length(con, n, expected):
    text = SETTINGS.sms_signature + "测" * (n - len(SETTINGS.sms_signature))
    assert len(text) == n
    assert notify.sms_segments(text) == expected
    assert con.execute("SELECT sms_segments(length(?))", [text]).fetchone()[0] == expected


def test_sms_segments_vectors():
    for row in read_vectors("sms_segments.csv"):
        assert notify.sms_segments(int(row["characters_including_signature"])) == int(row["segments"])


# ----------------------------------------------------------------------------- triggers


def test_each_kind_at_its_boundary(con):
    people = {d: add_person(con, 10 + i, s_mi=P + d) for i, d in enumerate((4, 3, 2, 0, -1))}
    new = add_person(con, 20, s_mi=P + 10, opened_mi=P, stage="ENROLLED")
    counts = notify.issue_reminders(con, P, SETTINGS)
    assert kinds_of(con, people[4]["id_no"]) == []
    assert kinds_of(con, people[3]["id_no"]) == [("AGE_MINUS_3", P)]
    assert kinds_of(con, people[2]["id_no"]) == []
    assert kinds_of(con, people[0]["id_no"]) == [("AGE_REACHED", P)]
    assert kinds_of(con, people[-1]["id_no"]) == [("OVERDUE", P)]
    assert kinds_of(con, new["id_no"]) == [("PRE_SERVICE", P)]
    assert counts == {"PRE_SERVICE": 1, "AGE_MINUS_3": 1, "AGE_REACHED": 1, "OVERDUE": 1, "NOTIFIED": 1}
    # the PRE_SERVICE entry moved ENROLLED -> NOTIFIED on the first day of P, source run:YYYY-MM
    stage, since = con.execute(
        "SELECT stage, stage_since FROM ledger_entries WHERE entry_id = ?", [new["entry_id"]]
    ).fetchone()
    assert stage == "NOTIFIED" and str(since) == "2026-03-01"
    tr = con.execute(
        "SELECT from_stage, to_stage, source FROM ledger_transitions WHERE entry_id = ?", [new["entry_id"]]
    ).fetchall()
    assert tr == [("ENROLLED", "NOTIFIED", "run:2026-03")]
    # reference and issued month P; notice ids deterministic and free of the ID number
    for nid, ref, issued, id_no in con.execute(
        "SELECT notice_id, reference_mi, issued_mi, id_no FROM notice_log"
    ).fetchall():
        assert ref == P and issued == P and id_no not in nid
        assert re.fullmatch(r"[A-Z_0-9]+-2026-03-[0-9a-f]{16}", nid)


def test_entering_month_gets_pre_service_and_any_other_kind_due(con):
    p = add_person(con, 30, s_mi=P + 3, opened_mi=P, stage="ENROLLED")
    notify.issue_reminders(con, P, SETTINGS)
    assert kinds_of(con, p["id_no"]) == [("AGE_MINUS_3", P), ("PRE_SERVICE", P)]


def test_overdue_once_every_three_months(con):
    months = list(range(P, P + 7))
    p = add_person(con, 40, s_mi=P - 1, months=months)
    for m in months:
        notify.issue_reminders(con, m, SETTINGS)
    assert kinds_of(con, p["id_no"]) == [("OVERDUE", P), ("OVERDUE", P + 3), ("OVERDUE", P + 6)]


def test_overdue_every_setting_is_read(con):
    months = list(range(P, P + 4))
    p = add_person(con, 41, s_mi=P - 1, months=months)
    s2 = SETTINGS.with_overrides(overdue_every_months=2)
    for m in months:
        notify.issue_reminders(con, m, s2)
    assert kinds_of(con, p["id_no"]) == [("OVERDUE", P), ("OVERDUE", P + 2)]


def test_no_notice_to_deceased_retired_or_closed(con):
    dead = add_person(con, 50, s_mi=P, survival_status=2, opened_mi=P, stage="ENROLLED")
    retired = add_person(con, 51, s_mi=P - 1, retired=True)
    closed = add_person(con, 52, s_mi=P + 3, closed_mi=P - 1, stage="RETIRED")
    alive = add_person(con, 53, s_mi=P)
    notify.issue_reminders(con, P, SETTINGS)
    assert kinds_of(con, dead["id_no"]) == []
    assert kinds_of(con, retired["id_no"]) == []
    assert kinds_of(con, closed["id_no"]) == []
    assert kinds_of(con, alive["id_no"]) == [("AGE_REACHED", P)]
    # nor through the generic path
    con.execute(
        "CREATE TABLE decl AS SELECT id_no, entry_id, ? AS reference_mi, office_code, "
        "DATE '2026-06-01' AS retirement_month FROM ledger_entries",
        [P],
    )
    assert notify.issue_notices(con, "DECLARATION", "decl", P, SETTINGS) == 1
    assert kinds_of(con, dead["id_no"]) == [] and kinds_of(con, retired["id_no"]) == []


# ----------------------------------------------------------------------------- channels


def test_channel_rules(con):
    sms = add_person(con, 60, s_mi=P, phone="+86 139-1234-5678")
    fullwidth = add_person(con, 61, s_mi=P, phone="１３９１２３４５６７８")
    landline = add_person(con, 62, s_mi=P, phone="0951-5012345")
    empty_emp = add_person(con, 63, s_mi=P, phone=None, employer_name=None, employer_uscc="91640100710645234G")
    empty_noemp = add_person(con, 64, s_mi=P, phone="", employer_name=None, employer_uscc=None)
    resident = add_person(con, 65, s_mi=P, phone=None, insurance_type=170, employer_name="某公司")
    notify.issue_reminders(con, P, SETTINGS)
    got = {r[0]: r for r in notices(con)}
    assert got[sms["id_no"]][3:6] == ("SMS", "13912345678", got[sms["id_no"]][5])
    assert got[sms["id_no"]][5] == notify.sms_segments(got[sms["id_no"]][7])
    assert got[sms["id_no"]][6] is None
    assert got[fullwidth["id_no"]][3:5] == ("SMS", "13912345678")
    assert got[landline["id_no"]][3:7] == ("EMPLOYER", None, None, "phone is not a valid mobile")
    assert got[empty_emp["id_no"]][3:7] == ("EMPLOYER", None, None, "no mobile number")
    assert got[empty_noemp["id_no"]][3:7] == ("TOWNSHIP", None, None, "no mobile number")
    assert got[resident["id_no"]][3:7] == ("TOWNSHIP", None, None, "no mobile number")
    # offline notices keep the same text
    assert got[landline["id_no"]][7] == got[sms["id_no"]][7]


# ----------------------------------------------------------------------------- texts


def test_reminder_texts(con):
    a3 = add_person(con, 70, s_mi=month_index(2026, 6))
    pre = add_person(con, 71, s_mi=month_index(2026, 12), opened_mi=P, stage="ENROLLED")
    res = add_person(con, 72, s_mi=month_index(2026, 12), opened_mi=P, stage="ENROLLED", insurance_type=170)
    over = add_person(con, 73, s_mi=P - 1)
    notify.issue_reminders(con, P, SETTINGS)
    texts = {(i, k): t for i, k, _, _, _, _, _, t, _ in notices(con)}
    t = texts[(a3["id_no"], "AGE_MINUS_3")]
    assert t.startswith("【宁夏人社】尊敬的参保人，您好！")
    assert "2026年6月达到法定退休年龄" in t and "2026年7月起领取" in t
    for where in ("我的宁夏APP", "宁夏人社公共服务平台", "经办窗口", "12333", "0951-0000104"):
        assert where in t
    t = texts[(pre["id_no"], "PRE_SERVICE")]
    assert "银川市兴庆区社保中心为您提供养老保险退休预服务" in t and "弹性" in t and "咨询电话：0951-0000104" in t
    t = texts[(res["id_no"], "PRE_SERVICE")]
    assert "城乡居民基本养老保险待遇领取年龄" in t and "弹性" not in t
    t = texts[(over["id_no"], "OVERDUE")]
    assert "已于2026年2月达到法定退休年龄" in t and "尽快" in t
    for t in texts.values():
        assert "\n" not in t and len(t) <= 500 and "测试" not in t
        assert not any(i in t for i, _ in texts)


def test_generic_kinds_declaration_consultation_result(con):
    a = add_person(con, 80, s_mi=P + 2)
    b = add_person(con, 81, s_mi=P + 2, office=OTHER_OFFICE)
    con.execute(
        "CREATE TABLE d AS SELECT id_no, entry_id, ? AS reference_mi, office_code, "
        "CAST(? AS INTEGER) AS retirement_month FROM ledger_entries",
        [P, P + 2],
    )
    assert notify.issue_notices(con, "DECLARATION", "(SELECT * FROM d WHERE office_code = '640104')", P, SETTINGS) == 1
    assert notify.issue_notices(con, "CONSULTATION", "(SELECT * FROM d WHERE office_code = '640521')", P, SETTINGS) == 1
    con.execute(
        "CREATE TABLE r AS SELECT id_no, entry_id, ? AS reference_mi, office_code, "
        "15 AS objection_days FROM ledger_entries",
        [P],
    )
    assert notify.issue_notices(con, "RESULT", "r", P, SETTINGS) == 2
    assert notify.issue_notices(con, "RESULT", "r", P, SETTINGS) == 0  # rerun: nothing new
    texts = {(i, k): t for i, k, _, _, _, _, _, t, _ in notices(con)}
    # rows without retirement_elected: R is the statutory month, nothing was chosen (test_recipients.py)
    assert "请您在达到法定退休年龄的当月（2026年5月）或前一个月" in texts[(a["id_no"], "DECLARATION")]
    c = texts[(b["id_no"], "CONSULTATION")]
    assert "暂不符合按月领取基本养老保险待遇的条件" in c and "中宁县社保中心经办窗口" in c
    assert "如有异议，请自收到结论之日起15个工作日内" in texts[(a["id_no"], "RESULT")]


def test_missing_variable_names_variable_and_person_key_not_id(con):
    p = add_person(con, 90, s_mi=P + 5, name="张三")
    con.execute("CREATE TABLE r AS SELECT id_no, entry_id, ? AS reference_mi, office_code FROM ledger_entries", [P])
    with pytest.raises(notify.NoticeRenderError) as exc:
        notify.issue_notices(con, "RESULT", "r", P, SETTINGS)
    msg = str(exc.value)
    assert "objection_days" in msg and person_key(p["id_no"], SETTINGS) in msg
    assert p["id_no"] not in msg and "张三" not in msg
    assert notices(con) == []  # nothing half-issued
    # a NULL value is missing too
    with pytest.raises(notify.NoticeRenderError, match="office_phone"):
        notify.render_notice(
            "AGE_REACHED",
            {
                "insurance_type": 110,
                "statutory_age_month": "2026年3月",
                "benefit_start_month": "2026年4月",
                "office_short": "X",
                "office_phone": None,
                "month_mi": P,
            },
            SETTINGS,
            "abc",
        )


def test_text_over_500_characters_is_an_error(con):
    with pytest.raises(notify.NoticeRenderError, match="at most 500"):
        notify.render_notice(
            "CONSULTATION", {"insurance_type": 110, "office_short": "长" * 400, "office_phone": "1"}, SETTINGS, "abc"
        )


# ----------------------------------------------------------------------------- files and reruns


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _mixed_month(con):
    add_person(con, 100, s_mi=P, phone="13912345678")
    add_person(con, 101, s_mi=P + 3, phone=None, opened_mi=P, stage="ENROLLED")
    add_person(con, 102, s_mi=P - 1, phone="0951-5012345", office=OTHER_OFFICE, employer_name=None)
    add_person(
        con, 103, s_mi=P - 1, phone="=cmd|' /C calc'!A0", office=OTHER_OFFICE, hukou_region=None, employer_name=None
    )


def test_files_per_office_and_rerun_is_identical(con, tmp_path):
    _mixed_month(con)
    first = notify.issue_reminders(con, P, SETTINGS)
    out = tmp_path / "out" / "2026-03"
    counts = notify.write_notification_files(con, P, out)
    assert counts["notification offices"] == 2 and counts["sms notices"] == 1 and counts["offline notices"] == 4
    files1 = _files(out)
    assert set(files1) == {
        f"notifications/{o}/{f}" for o in (OFFICE, OTHER_OFFICE) for f in ("sms.parquet", "sms.csv", "offline.csv")
    }
    n_before = con.execute("SELECT count(*) FROM notice_log").fetchone()[0]
    tr_before = con.execute("SELECT count(*) FROM ledger_transitions").fetchone()[0]
    rows_before = con.execute("SELECT * EXCLUDE (created_at) FROM notice_log ORDER BY notice_id").fetchall()
    again = notify.issue_reminders(con, P, SETTINGS)
    assert sum(again.values()) == 0 and sum(first.values()) > 0
    assert con.execute("SELECT count(*) FROM notice_log").fetchone()[0] == n_before
    assert con.execute("SELECT count(*) FROM ledger_transitions").fetchone()[0] == tr_before
    assert con.execute("SELECT * EXCLUDE (created_at) FROM notice_log ORDER BY notice_id").fetchall() == rows_before
    notify.write_notification_files(con, P, out)
    assert _files(out) == files1
    # an office only gets its own persons; offline rows say how to deliver
    own = {
        o: {r[0] for r in con.execute("SELECT id_no FROM notice_log WHERE office_code = ?", [o]).fetchall()}
        for o in (OFFICE, OTHER_OFFICE)
    }
    cols = {}
    for o in (OFFICE, OTHER_OFFICE):
        for f in ("sms.csv", "offline.csv"):
            raw = (out / "notifications" / o / f).read_bytes()
            assert raw.startswith(b"\xef\xbb\xbf")
            rows = read_csv_rows(out / "notifications" / o / f)
            cols[f] = list(rows[0]) if rows else cols.get(f)
            assert {r["公民身份号码"] for r in rows} <= own[o]
    assert {"通知编号", "通知类型", "公民身份号码", "手机号码", "短信内容", "计费条数", "所属年月"} <= set(
        cols["sms.csv"]
    )
    off = read_csv_rows(out / "notifications" / OTHER_OFFICE / "offline.csv")
    assert {r["告知渠道"] for r in off} == {"TOWNSHIP"}
    assert {r["线下告知原因"] for r in off} == {"phone is not a valid mobile"}
    hints = sorted(r["乡镇（街道）"] for r in off)
    assert hints == ["640104", OTHER_OFFICE]  # hukou code, or the office when empty
    assert all(r["所属年月"] == "2026-03" for r in off)
    sms = read_csv_rows(out / "notifications" / OFFICE / "sms.csv")
    assert [r["手机号码"] for r in sms] == ["13912345678"] and sms[0]["通知类型"] == "AGE_REACHED"
    import pyarrow.parquet as pq

    t = pq.read_table(out / "notifications" / OFFICE / "sms.parquet")
    assert t.column_names[:7] == ["notice_id", "notice_kind", "id_no", "phone", "text", "segments", "reference_month"]


def test_kill_between_notices_and_files_then_rerun(tmp_path):
    db = tmp_path / "w.duckdb"
    out = tmp_path / "out" / "2026-03"
    with connect(db, settings=SETTINGS) as c:
        c.execute(PERSONS_DDL)
        _mixed_month(c)
        c.execute("BEGIN TRANSACTION")
        notify.issue_reminders(c, P, SETTINGS)
        c.execute("COMMIT")
        # killed here: notices committed, no file written
    assert not out.exists()
    with connect(db, settings=SETTINGS) as c:
        again = notify.issue_reminders(c, P, SETTINGS)
        assert sum(v for k, v in again.items() if k != "NOTIFIED") == 0
        notify.write_notification_files(c, P, out)
        dup = c.execute(
            "SELECT count(*) FROM (SELECT id_no, kind, reference_mi FROM notice_log GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()[0]
        assert dup == 0
        by_office = dict(c.execute("SELECT office_code, count(*) FROM notice_log GROUP BY 1").fetchall())
    for office, n in by_office.items():
        folder = out / "notifications" / office
        rows = read_csv_rows(folder / "sms.csv") + read_csv_rows(folder / "offline.csv")
        assert len(rows) == n
    assert not list(out.rglob("*.tmp")) and not list(out.rglob("*.body"))


def test_kill_between_insert_and_stage_move_completes_on_rerun(con):
    p = add_person(con, 110, s_mi=P + 8, opened_mi=P, stage="ENROLLED")
    notify.issue_reminders(con, P, SETTINGS)
    # undo the move as if the run had died right after the insert
    con.execute("UPDATE ledger_entries SET stage = 'ENROLLED' WHERE entry_id = ?", [p["entry_id"]])
    con.execute("DELETE FROM ledger_transitions")
    counts = notify.issue_reminders(con, P, SETTINGS)
    assert counts["PRE_SERVICE"] == 0 and counts["NOTIFIED"] == 1
    assert (
        con.execute("SELECT stage FROM ledger_entries WHERE entry_id = ?", [p["entry_id"]]).fetchone()[0] == "NOTIFIED"
    )


# ----------------------------------------------------------------------------- letters


def test_coordination_letters(con, tmp_path):
    moved_in = add_person(con, 120, s_mi=P + 6, name="李四")
    con.execute(
        "INSERT INTO handovers VALUES (?, ?, 'BENEFIT_PLACE_IN', '620000', ?, 'test')", [P, moved_in["id_no"], OFFICE]
    )
    changed = add_person(con, 121, s_mi=P + 6, office=OTHER_OFFICE)
    con.execute(
        "INSERT INTO handovers VALUES (?, ?, 'OFFICE_CHANGE', ?, ?, 'test')",
        [P, changed["id_no"], OFFICE, OTHER_OFFICE],
    )
    reviewed = add_person(con, 122, s_mi=P + 6, pre_review_office="640205")
    con.execute(
        "INSERT INTO handovers VALUES (?, ?, 'OFFICE_CHANGE', '640205', ?, 'test')", [P, reviewed["id_no"], OFFICE]
    )  # same case twice: one letter
    gone = add_person(con, 123, s_mi=P + 6, closed_mi=P, stage="MOVED_OUT", pre_review_office="640205")
    con.execute(
        "INSERT INTO handovers VALUES (?, ?, 'BENEFIT_PLACE_OUT', ?, '610000', 'test')", [P, gone["id_no"], OFFICE]
    )  # no letter: moved out, entry closed
    out = tmp_path / "out" / "2026-03"
    assert notify.record_letters_due(con, P) == 3
    assert notify.record_letters_due(con, P) == 0  # a rerun of P adds nothing
    paths = notify.write_letters(con, P, out)
    assert len(paths) == 3
    by_person = {}
    for path in paths:
        html = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://", html)
        assert "@page" in html and "size: A4" in html and "Noto Serif CJK SC" in html and "serif" in html
        assert "临退人员档案预审结果协调函" in html and "2026年3月1日" in html
        assert path.stem.startswith("XT-202603-")
        for person in (moved_in, changed, reviewed):
            if person["id_no"] in html:
                by_person[person["id_no"]] = (path, html)
                assert person["id_no"] not in path.name and person["name"] not in path.name
    p, html = by_person[moved_in["id_no"]]
    assert p.parent.name == OFFICE and "甘肃省省级社会保险经办机构：" in html and "李四" in html
    assert "银川市兴庆区社会保险事业管理中心（公章）" in html and "0951-0000104" in html and "经办人：经办员01<" in html
    # another province: the ledger has no record of its work, the letter asks for what it holds
    assert "经核定，其基本养老保险待遇领取地已变更为我区" in html and "原在你处进行了退休预审" not in html
    assert "我处没有其在你处进行退休预审的记录：如你处已为其进行退休预审" in html
    p, html = by_person[changed["id_no"]]
    assert p.parent.name == OTHER_OFFICE and "银川市兴庆区社会保险事业管理中心：" in html
    # an office change whose move left no transition (the stage it left in unknown): asked, not asserted
    assert "原由你处为其提供养老保险退休预服务，现由我处为其办理企业职工基本养老保险退休手续。" in html
    assert "原在你处进行了退休预审" not in html and "我处没有其在你处进行退休预审的记录" in html
    p, html = by_person[reviewed["id_no"]]
    assert p.parent.name == OFFICE and "石嘴山市惠农区社会保险事业管理中心：" in html
    assert "牵头经办机构变更；待遇领取地与档案预审地不一致" in html
    assert "原在你处进行了退休预审。现申请在我处办理企业职工基本养老保险退休手续" in html  # pre_review_office
    before = _files(out)
    notify.write_letters(con, P, out)
    assert _files(out) == before
    # the entry closing after P's run (a county RETIRED dated in P), or an office change moving it to
    # another officer, leaves the letter of P as written: its entry and officer are recorded with it
    con.execute(
        "UPDATE ledger_entries SET closed_mi = ?, close_reason = 'RETIRED', officer_id = '640104-09' "
        "WHERE entry_id = ?",
        [P, moved_in["entry_id"]],
    )
    notify.write_letters(con, P, out)
    assert _files(out) == before
    # letters recorded before the entry was stored with them: the latest entry opened by P
    con.execute("UPDATE ledger_entries SET officer_id = '640104-01' WHERE entry_id = ?", [moved_in["entry_id"]])
    con.execute("UPDATE coordination_letters SET entry_id = NULL, officer_id = NULL")
    notify.write_letters(con, P, out)
    assert _files(out) == before
    # the next month the entries are still open with the same pre-review office: no letter again
    assert notify.record_letters_due(con, P + 1) == 0
    assert notify.write_letters(con, P + 1, tmp_path / "out" / "2026-04") == []


@pytest.mark.parametrize(
    "left_stage, now_stage, reviewed",
    [("NOTIFIED", "ARCHIVE_REVIEWED", False), ("ENROLLED", "NOTIFIED", False), ("YEARS_CONFIRMED", "CONCLUDED", True)],
)
def test_a_letter_states_the_stage_the_entry_left_the_old_office_in(con, tmp_path, left_stage, now_stage, reviewed):
    """rules.md §7: the stage of the move's transition ('office A -> B', sql/ledger/20_office_change.sql),
    not the entry's stage now (the new office may have reviewed since): past NOTIFIED, 附件1's words;
    else the stage and a request for what the old office holds (docs/decisions.md)."""
    moved = add_person(con, 130, s_mi=P + 6, office=OTHER_OFFICE, stage=now_stage)
    con.execute(
        "INSERT INTO handovers VALUES (?, ?, 'OFFICE_CHANGE', ?, ?, 'test')", [P, moved["id_no"], OFFICE, OTHER_OFFICE]
    )
    con.execute(
        "INSERT INTO ledger_transitions VALUES (?, ?, ?, ?, DATE '2026-03-01', ?, 'run:2026-03', ?, now())",
        [moved["entry_id"], moved["id_no"], left_stage, left_stage, P, f"office {OFFICE} -> {OTHER_OFFICE}"],
    )
    assert notify.record_letters_due(con, P) == 1
    (path,) = notify.write_letters(con, P, tmp_path / "out")
    html = path.read_text(encoding="utf-8")
    assert path.parent.name == OTHER_OFFICE and "银川市兴庆区社会保险事业管理中心：" in html
    assert ("原在你处进行了退休预审" in html) is reviewed
    assert ("退休预审结果（含档案信息预审结论和档案重点要件材料扫描版）" in html) is reviewed
    label = {"NOTIFIED": "已告知", "ENROLLED": "已纳入台账"}.get(left_stage)
    assert (f"转出你处时办理环节为“{label}”，尚未进行档案预审" in html) is (not reviewed)


def test_recipient_names():
    assert notify.recipient_name("620000") == "甘肃省省级社会保险经办机构"
    assert notify.recipient_name("610112") == "陕西省省级社会保险经办机构"
    assert notify.recipient_name("640104") == "银川市兴庆区社会保险事业管理中心"
    assert len(notify.PROVINCES) == 31


@pytest.mark.parametrize("kind", notify.KINDS)
def test_every_kind_renders_for_every_office_within_500(kind):
    for code in notify.offices():
        for insurance_type in (110, 170):
            for s_mi in (P - 5, P, P + 3):
                ctx = notify.notice_context(
                    {
                        "office_code": code,
                        "insurance_type": insurance_type,
                        "reference_mi": P,
                        "statutory_age_mi": s_mi,
                        "benefit_start_mi": s_mi + 1,
                        "original_age_mi": s_mi - 36,
                        "flexible_earliest_mi": s_mi - 36,
                        "flexible_latest_mi": s_mi + 36,
                        "elected_retirement_mi": s_mi + 12,
                        "elected_benefit_start_mi": s_mi + 13,
                        "retirement_month": P + 2,
                        "objection_days": 15,
                    },
                    P,
                )
                text = notify.render_notice(kind, ctx, SETTINGS, "k")
                assert text.startswith("【宁夏人社】尊敬的参保人，您好！") and len(text) <= 500
                assert "{" not in text and "None" not in text and "\n" not in text


def test_files_of_one_office(con, tmp_path):
    _mixed_month(con)
    notify.issue_reminders(con, P, SETTINGS)
    out = tmp_path / "o"
    c1 = notify.write_notification_files(con, P, out, office=OTHER_OFFICE)
    assert c1["notification offices"] == 1 and c1["offline notices"] == 2 and c1["sms notices"] == 0
    assert sorted(p.name for p in (out / "notifications").iterdir()) == [OTHER_OFFICE]
    assert notify.write_notification_files(con, P, out, office="640181")["notification offices"] == 0


@pytest.mark.parametrize("reason", ["DECEASED", "RETIRED", "LEFT_PUSH", "MOVED_OUT"])
def test_notice_raised_before_the_push_is_withdrawn_when_the_run_closes_its_entry(con, reason):
    # decisions.md: a DECLARATION of the 1st or a RESULT from feedback waits for P's batch; P's run
    # closing the entry (any close reason) withdraws it: kept in notice_withdrawals, in no file
    open_ = add_person(con, 82, s_mi=P + 2)
    gone = add_person(con, 83, s_mi=P + 2)
    con.execute(
        "CREATE TABLE d AS SELECT id_no, entry_id, ? AS reference_mi, office_code, "
        "CAST(? AS INTEGER) AS retirement_month FROM ledger_entries",
        [P + 2, P + 2],
    )
    assert notify.issue_notices(con, "DECLARATION", "d", P, SETTINGS) == 2
    con.execute(
        "CREATE TABLE r AS SELECT id_no, entry_id, ? AS reference_mi, office_code, "
        "15 AS objection_days FROM ledger_entries",
        [P],
    )
    assert notify.issue_notices(con, "RESULT", "r", P, SETTINGS) == 2
    con.execute(
        "UPDATE ledger_entries SET closed_mi = ?, close_reason = ? WHERE entry_id = ?", [P, reason, gone["entry_id"]]
    )
    assert notify.withdraw_closed(con, P) == 2
    assert kinds_of(con, gone["id_no"], P) == []
    assert kinds_of(con, open_["id_no"], P) == [("DECLARATION", P + 2), ("RESULT", P)]
    assert con.execute("SELECT kind, reason, withdrawn_mi FROM notice_withdrawals ORDER BY kind").fetchall() == [
        ("DECLARATION", reason, P),
        ("RESULT", reason, P),
    ]
    assert notify.withdraw_closed(con, P) == 0  # a rerun finds nothing left


def test_withdrawn_notice_waits_again_when_a_rerun_reopens_its_entry(con):
    # decisions.md: a run of P that did not finish withdrew gone's DECLARATION (P's push said it
    # left); a correction push of P and the rerun reopen the entry (05_reopen.sql): the notice waits
    # for P's batch again, exactly as it was, and is withdrawn from nothing
    gone = add_person(con, 83, s_mi=P + 2)
    con.execute(
        "CREATE TABLE d AS SELECT id_no, entry_id, ? AS reference_mi, office_code, "
        "CAST(? AS INTEGER) AS retirement_month FROM ledger_entries",
        [P + 2, P + 2],
    )
    assert notify.issue_notices(con, "DECLARATION", "d", P, SETTINGS) == 1
    before = con.execute("SELECT * EXCLUDE (file_office) FROM notice_log").fetchall()
    con.execute("UPDATE ledger_entries SET closed_mi = ?, close_reason = 'LEFT_PUSH', stage = 'LEFT_PUSH'", [P])
    assert notify.withdraw_closed(con, P) == 1 and kinds_of(con, gone["id_no"], P) == []
    con.execute("UPDATE ledger_entries SET closed_mi = NULL, close_reason = NULL, stage = 'NOTIFIED'")
    assert notify.withdraw_closed(con, P) == 0
    assert con.execute("SELECT * EXCLUDE (file_office) FROM notice_log").fetchall() == before
    assert con.execute("SELECT count(*) FROM notice_withdrawals").fetchall() == [(0,)]
