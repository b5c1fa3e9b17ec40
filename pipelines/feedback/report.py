"""What a ``retire-prep feedback`` did: one outcome per file, the lines shown (no personal data)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..errors import RetirePrepError

log = logging.getLogger("pipelines.feedback")


@dataclass
class FileOutcome:
    """What happened to one file (no personal data)."""

    file: str
    sha256: str
    status: str  # APPLIED | ALREADY_APPLIED | REFUSED
    rows: int = 0
    accepted: int = 0  # applied + already applied
    refused: int = 0
    already_applied: int = 0
    reasons: dict = field(default_factory=dict)  # reason_code -> rows
    reason: str | None = None  # whole-file refusal
    office: str | None = None  # the office the file is bound to
    sent_again: int = 0  # already applied rows that would change the pre-service now (SENT_AGAIN)


@dataclass
class FeedbackReport:
    files: list[FileOutcome] = field(default_factory=list)
    notices: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def refused(self) -> int:
        return sum(f.refused for f in self.files)

    @property
    def refused_files(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "REFUSED"]

    def warn(self, msg: str) -> None:
        if msg not in self.warnings:
            self.warnings.append(msg)
            log.info(msg)  # shown by lines(); the calendar's own warnings are logged by workdays

    def lines(self) -> list[str]:
        out = []
        for f in self.files:
            if f.status == "REFUSED":
                out.append(f"REFUSED {f.file}: {f.reason}")
                continue
            head = "already applied, nothing to do: " if f.status == "ALREADY_APPLIED" else "applied "
            bound = f" (office {f.office})" if f.office else ""
            line = (
                f"{head}{f.file}{bound}: {f.rows} rows, {f.accepted} accepted "
                f"({f.already_applied} already applied before), {f.refused} refused"
            )
            if f.reasons:
                line += " [" + ", ".join(f"{k} {v}" for k, v in sorted(f.reasons.items())) + "]"
            if f.sent_again:
                line += (
                    f"; SENT_AGAIN {f.sent_again}: identical rows not applied, a repeat needs a note (see the receipt)"
                )
            out.append(line)
        if self.notices:
            out.append(f"RESULT notices issued: {self.notices}")
        out += [f"warning: {w}" for w in self.warnings]
        return out


class FeedbackFileRefused(RetirePrepError):
    """A feedback file that could not be read as the documented format (refused whole)."""

    def __init__(self, message: str, report: FeedbackReport):
        super().__init__(message)
        self.report = report
