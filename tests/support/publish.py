"""A small push for the publishing tests (tests/robustness/test_publish_crash.py, test_environment_faults.py):
eleven persons over two offices — SMS and an offline notice, a 170 person, and one whose elected
month a feedback file sets so that ``declare`` lists and notifies him — and a switch that leaves Great
Expectations out of a run (its files are under ``validation/``, not published; other tests cover it)."""

from __future__ import annotations

from pathlib import Path

from support.pushkit import person, segment, write_batch

OFFICES = ("640104", "640105")


class _NoThread:
    def join(self, *a):
        return None


def no_validation(mp) -> None:
    """Great Expectations left out (tests/outputs/test_validate.py and test_fault_injection.py cover it; its
    files are written in place under validation/, which is not published): a run takes a fraction of
    a second on these few persons, so every kill can be followed by a full rerun."""
    import pipelines.validate as v

    mp.setattr(v, "validate_frames", lambda *a, **kw: None)
    mp.setattr(v, "warm_up", lambda: _NoThread())


def no_workbooks(mp) -> None:
    """The offices' workbooks (``worklist.xlsx``, ``declarations.xlsx``, ``offline.xlsx``) left out: ``write_worklists``
    gets each office's rows counted in ``worklist_rows`` (``write_declarations`` in
    ``declaration_decisions``), as the writer would return them, and no file is written
    (tests/outputs/test_worklist_xlsx.py, test_xlsx_setbased.py and the whole-month modules keep them:
    tests/conftest.py)."""
    import pipelines.outputs as o

    def counts(con, ctx, stage_dir, offices):
        rows = dict(
            con.execute(
                "SELECT office_code, count(*) FROM worklist_rows WHERE month_mi = ? AND list_contains(?, office_code) "
                "GROUP BY office_code",
                [int(ctx.month_mi), list(offices)],
            ).fetchall()
        )
        return {office: rows.get(office, 0) for office in offices}

    mp.setattr(o, "write_workbooks", counts)

    # and the offices' declarations.xlsx (``declare``): each office's rows of declaration_decisions
    import pipelines.declare as d

    def declaration_counts(con, month_mi, paths, settings=None):
        rows = dict(
            con.execute(
                "SELECT office_code, count(*) FROM declaration_decisions WHERE month_mi = ? GROUP BY office_code",
                [int(month_mi)],
            ).fetchall()
        )
        return {office: rows.get(office, 0) for office in paths}

    mp.setattr(d, "write_declaration_books", declaration_counts)

    # and the offices' offline.xlsx (the notices' files): each office's offline notices of _notices_p
    import pipelines.notify_files as nf

    def offline_counts(con, month_mi, paths, persons, settings=None):
        rows = dict(
            con.execute(
                "SELECT file_office, count(*) FROM _notices_p WHERE channel <> 'SMS' GROUP BY file_office"
            ).fetchall()
        )
        return {office: rows.get(office, 0) for office in paths}

    mp.setattr(nf, "write_offline_books", offline_counts)


def persons() -> list[dict]:
    ps = []
    for i in range(1, 11):
        off = OFFICES[i % 2]
        g = 1 if i % 3 else 2
        birth = f"{1965 + i % 3}{i % 12 + 1:02d}15" if g == 1 else f"{1974 + i % 3}{i % 12 + 1:02d}15"
        kw = dict(gender=g, birth_date=birth, insured_region=off, hukou_region=off, phone=f"139{i:08d}")
        if i == 7:
            kw["phone"] = "0951-5012345"  # offline notice
        if i == 9:
            kw.update(insurance_type="170", person_type="", employer_uscc="", employer_name="")
        ps.append(person(i, **kw))
    # person 11: O = 2026-12, elected month 2027-01 by feedback: declared in 2026-12
    ps.append(person(11, birth_date="19661215", insured_region="640104", hukou_region="640104", phone="13900000011"))
    return ps


def segments(ps) -> list[dict]:
    return [segment(p["id_no"], region=p["insured_region"]) for p in ps]


def first_batch(folder: Path, month: str = "2026-11") -> Path:
    """The push's first batch (a FULL, seq 1) of :func:`persons` in ``folder``, for ``month``."""
    ps = persons()
    return write_batch(folder, ps, segments(ps), seq=1, month=month)
