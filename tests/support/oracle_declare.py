"""An independent oracle of rules.md §6 (the month-start declaration screening), with §5's "never
twice" and §7's conclusions, confirmations and objections as far as §6 reads them.

Pure Python, no project imports: the ages and the minimum come from ``oracle_rules`` (the oracles'
own §1, checked against tests/vectors/), the rest from the spec and the facts the scenario feeds
(push rows, county feedback events as applied).  Used by tests/oracles/test_oracle_declare.py.

What the oracle holds per person is what §6 needs and nothing the project computes:

* the person's latest push row (as ingested, ``in_push`` false once deleted or absent from a FULL);
* whether a ledger entry is open and at which office (opened by the scenario's first run of the
  person's era; closed by a run whose push says deceased, retired, left the push or left Ningxia);
* the conclusion versions (counted months), whether the current one is confirmed, whether an
  objection is open (filed, material complete or not, neither upheld nor rejected);
* the elected month (the last ELECTED_MONTH applied);
* the DECLARATION/CONSULTATION notices issued so far: (kind, reference month) → batch month.

Decisions where the spec is silent follow docs/decisions.md and are marked [decisions.md].
"""

from __future__ import annotations

from dataclasses import dataclass, field

from support.oracle_rules import NX, ages, benefit_place, min_contribution

OFFICES = set(  # rules.md §3
    "640000 640100 640200 640300 640400 640500 640104 640105 640106 640121 640122 640181 640202 640205 "
    "640221 640302 640303 640323 640324 640381 640402 640422 640423 640424 640425 640502 640521 640522 "
    "640900".split()
)


def mt(m: int | None) -> str | None:
    return None if m is None else f"{m // 12:04d}-{m % 12 + 1:02d}"


def mi(text: str) -> int:
    y, m = text.replace("/", "-").split("-")[:2]
    return int(y) * 12 + int(m) - 1


@dataclass
class Person:
    key: str
    row: dict  # the latest push row (strings, as persons.csv)
    segs: list = field(default_factory=list)
    in_push: bool = True
    entry_open: bool = False
    office: str | None = None  # the entry's office
    versions: list = field(default_factory=list)  # counted months of each conclusion version
    confirmed: bool = False
    objection_open: bool = False
    elected: int | None = None

    @property
    def id_no(self) -> str:
        return self.row["id_no"]


@dataclass
class Expected:
    id_no: str
    key: str
    office: str
    retirement_month: str
    retirement_source: str
    decision: str
    counted: int
    minimum: int


class Oracle:
    def __init__(self):
        self.people: dict[str, Person] = {}
        self.runs: set[int] = set()
        self.notices: dict[tuple[str, str, int], int] = {}  # (id_no, kind, reference) -> batch month
        self.withdrawn: set[tuple[str, str, int]] = set()

    # ---------------------------------------------------------------- facts

    def push(self, rows: list[dict], segs: dict[str, list], full: bool) -> None:
        seen = set()
        for r in rows:
            p = self.people.setdefault(r["id_no"], Person(r.get("_key", r["id_no"]), dict(r)))
            p.row = dict(r)
            p.in_push = r.get("op", "") != "D"
            if r["id_no"] in segs:
                p.segs = segs[r["id_no"]]
            seen.add(r["id_no"])
        if full:
            for p in self.people.values():
                if p.id_no not in seen:
                    p.in_push = False

    def servable(self, p: Person) -> bool:
        """Alive, not retired, in the push, benefit place Ningxia (rules.md §2, §3)."""
        place = benefit_place(p.row, p.segs)[0]
        return p.in_push and p.row["survival_status"] != "2" and p.row["retired"] != "1" and place == NX

    def run(self, month: int, entering: set[str]) -> None:
        """A monthly run: the persons of ``entering`` are taken in (the scenario's cohort is in scope
        at its era's first run: checked against the ledger by the test); open entries the push
        closes are closed, and their notices of this month's batch withdrawn [decisions.md]."""
        for k, batch in list(self.notices.items()):
            if batch < month and batch not in self.runs:
                self.notices[k] = month  # a skipped month's notices are carried into this batch
        for p in self.people.values():
            if p.id_no in entering and not p.entry_open and self.servable(p):
                p.entry_open, p.office = True, p.row["insured_region"]
            elif p.entry_open and not self.servable(p):
                p.entry_open = False
                for k, batch in list(self.notices.items()):
                    if k[0] == p.id_no and batch == month:
                        self.withdrawn.add(k)
                        del self.notices[k]
            elif p.entry_open and p.row["insured_region"] in OFFICES:
                p.office = p.row["insured_region"]  # the handover (rules.md §3)
        self.runs.add(month)

    # county feedback, as applied (rules.md §7; docs/feedback-format.md)
    def conclusion(self, id_no: str, counted: int) -> None:
        p = self.people[id_no]
        p.versions.append(counted)
        p.confirmed = False

    def confirm(self, id_no: str) -> None:
        self.people[id_no].confirmed = True

    def objection(self, id_no: str) -> None:
        p = self.people[id_no]
        p.objection_open, p.confirmed = True, False  # an objection in time suspends the confirmation

    def rejected(self, id_no: str) -> None:
        self.people[id_no].objection_open = False  # the conclusion stands, to be confirmed again

    def upheld(self, id_no: str, counted: int) -> None:
        self.people[id_no].objection_open = False
        self.conclusion(id_no, counted)

    def elect(self, id_no: str, month: int) -> None:
        self.people[id_no].elected = month

    def retired_by_county(self, id_no: str) -> None:
        self.people[id_no].entry_open = False

    # ---------------------------------------------------------------- §6

    def screen(self, month: int) -> dict[str, Expected]:
        """The list of month P: every open entry with 1 <= R - P <= 3, alive, not retired, in the push and
        with its benefit place in Ningxia on the latest push (the run closes all others' entries)."""
        out = {}
        for p in self.people.values():
            if not p.entry_open:
                continue
            a = ages(p.row)
            s = a["statutory_age_mi"]
            r = p.elected if p.elected is not None else s
            if not 1 <= r - month <= 3:
                continue
            if p.row["survival_status"] == "2" or p.row["retired"] == "1":
                continue  # re-check: alive and not retired
            if not p.in_push:
                continue  # no longer in the push: §3 closes the entry as a deceased one's [decisions.md]
            if benefit_place(p.row, p.segs)[0] != NX:
                continue  # rules.md §2 on the latest push: served by another province [decisions.md]
            itype = p.row["insurance_type"]
            in_window = p.elected is None or (
                a["flexible_earliest_mi"] is not None
                and a["flexible_earliest_mi"] <= p.elected <= a["flexible_latest_mi"]
            )
            complete = bool(p.versions) and p.confirmed and not p.objection_open
            counted = p.versions[-1] if p.versions else _push_counted(p.row)
            minimum = min_contribution(r // 12, itype)
            if not complete or not in_window:
                decision = "FOLLOW_UP"
            else:
                decision = "DECLARATION" if counted >= minimum else "CONSULTATION"
            office = p.row["insured_region"] if p.row["insured_region"] in OFFICES else p.office
            out[p.id_no] = Expected(
                p.id_no,
                p.key,
                office,
                mt(r),
                "ELECTED" if p.elected is not None else "STATUTORY",
                decision,
                counted,
                minimum,
            )
        return out

    def notify(self, month: int, listed: dict[str, Expected]) -> None:
        """§5: one notice per person, kind and reference month, in the batch of the first month not
        yet run from P on [decisions.md]."""
        last = max(self.runs) if self.runs else None
        batch = month if last is None else max(month, last + 1)
        for e in listed.values():
            if e.decision in ("DECLARATION", "CONSULTATION"):
                self.notices.setdefault((e.id_no, e.decision, mi(e.retirement_month)), batch)


def _push_counted(row: dict) -> int:
    deemed = int(row.get("deemed_months") or 0) if row.get("deemed_status") == "1" else 0
    return int(row["actual_contribution_months"] or 0) + deemed
