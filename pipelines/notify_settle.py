"""P's unpublished SMS batch settled on P's data (the notices stage of a run, after the reminders):
the notices raised before P's push take P's channel, mobile and filing office, and their texts name
that office (``sql/notify/47_settle_batch.sql``, ``48_settle_texts.sql``); a reminder older code
rendered for the month it was raised in is rendered for P, the month it goes out in
(``47_waiting_rows.sql``, ``47_waiting_texts.sql``; docs/decisions.md "Upgrades: texts waiting for
their batch").  Moved out of :mod:`pipelines.notify`, which re-exports :func:`settle_batch`.
"""

from __future__ import annotations

import pyarrow as pa

from .notify import (
    STEPS,
    NoticeRenderError,
    _office_context,
    _persons_source,
    batch_published,
    notice_context,
    offices,
    render_notice,
)
from .settings import Settings, load_settings
from .steps import run_step


def settle_batch(con, month_mi: int, settings: Settings | None = None) -> int:
    """P's unpublished batch on P's data: channel, mobile and filing office of the notices issued
    into P that were raised before P's push (``sql/notify/47_settle_batch.sql``), the texts of the
    reminders waiting in it rendered for P (:func:`render_waiting`), and the texts naming the filing
    office (``48_settle_texts.sql``).  Returns how many notices were settled or rendered again."""
    if batch_published(con, month_mi):
        return 0
    changed = run_step(con, STEPS["47_settle_batch"], month_mi=int(month_mi), persons=_persons_source(con))[0][0]
    # before 48: the texts are compared as they were rendered, with the issuing office's contacts
    changed += render_waiting(con, month_mi, settings or load_settings())
    # each office's name and telephone as the texts were rendered with them (_office_context)
    contacts = {code: _office_context(code) for code in sorted(offices())}
    named = [(code, c["office_short"], c["office_phone"]) for code, c in contacts.items() if c.get("office_phone")]
    run_step(con, STEPS["48_settle_texts"], month_mi=int(month_mi), offices=named)
    return changed


def render_waiting(con, month_mi: int, settings: Settings) -> int:
    """The reminders waiting in P's unpublished batch that a run of an earlier month raised: a text
    that is the rendering for its reference month (what code before the thirteenth session stored:
    本月, 将于/已于 and the flexible months read in the month raised) becomes the rendering for P, from
    the same inputs (``sql/notify/47_waiting_rows.sql``).  A text this code rendered for the batch, or
    one whose inputs have changed since, is not that rendering and is left as it is.  Idempotent;
    returns how many texts changed."""
    run_step(
        con,
        STEPS["47_waiting_rows"],
        month_mi=int(month_mi),
        benefit_start_offset=int(settings.benefit_start_offset),
    )
    cur = con.execute("SELECT * FROM _waiting_rows")
    names = [d[0] for d in cur.description]
    ids, texts = [], []
    for values in cur.fetchall():
        row = dict(zip(names, values))
        notice_id, stored, kind = row.pop("notice_id"), row.pop("text"), row["kind"]
        pkey = notice_id.rsplit("-", 1)[-1]  # KIND-YYYY-MM-<person_key>: named in a render error only
        try:
            then = render_notice(kind, notice_context(row, row["reference_mi"]), settings, pkey)
            now = render_notice(kind, notice_context(row, int(month_mi)), settings, pkey)
        except NoticeRenderError:
            continue  # inputs that no longer render: not the text stored, left as it is
        if stored == then != now:
            ids.append(notice_id)
            texts.append(now)
    table = pa.table({"notice_id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})
    con.register("_waiting_texts", table)
    try:
        run_step(con, STEPS["47_waiting_texts"], month_mi=int(month_mi))
    finally:
        con.unregister("_waiting_texts")
    return len(ids)
