"""What a validation gives back: each expectation's outcome (personal values already masked) and
the stage's result, with its one-line failure message."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .masking import MASKING_METHOD, PERSONAL_COLUMNS, one_line

EXAMPLES = 3  # unexpected examples kept per expectation


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, with personal values already masked."""

    frame: str
    type: str
    columns: tuple[str, ...]
    kwargs: dict
    why: str
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    missing_count: int | None = None
    observed_value: Any = None
    unexpected_examples: tuple = ()
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "frame": self.frame,
            "type": self.type,
            "columns": list(self.columns),
            "kwargs": self.kwargs,
            "why": self.why,
            "success": self.success,
            "element_count": self.element_count,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": self.unexpected_percent,
            "missing_count": self.missing_count,
            "observed_value": self.observed_value,
            "unexpected_examples": list(self.unexpected_examples),
            "error": self.error,
        }

    def summary(self) -> str:
        """One line: the expectation, its column(s) and up to 3 masked examples."""
        what = f"{self.type}({', '.join(self.columns)})" if self.columns else self.type
        if self.error:
            detail = f"error: {self.error}"
        elif self.type == "expect_table_columns_to_match_set":
            detail = "missing columns " + ", ".join(map(str, self.unexpected_examples))
        elif self.unexpected_count is not None:
            detail = f"{self.unexpected_count} of {self.element_count} rows unexpected"
        else:
            detail = f"observed {one_line(self.observed_value)}"
        if self.unexpected_examples and self.type != "expect_table_columns_to_match_set":
            detail += ", e.g. " + ", ".join(one_line(v) for v in self.unexpected_examples[:EXAMPLES])
        return f"{what}: {detail}"


@dataclass(frozen=True)
class StageResult:
    """The validation of one stage: every expectation's outcome and where they were written."""

    stage: str
    label: str
    success: bool
    outcomes: tuple[ExpectationOutcome, ...]
    frames: dict[str, dict] = field(
        default_factory=dict
    )  # frame -> {"rows", "population", "sampled", "columns", "success"}
    seconds: float = 0.0
    json_path: Path | None = None
    html_path: Path | None = None

    @property
    def failures(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success)

    def to_dict(self) -> dict:
        return {
            "stage": self.stage,
            "label": self.label,
            "success": self.success,
            "evaluated": len(self.outcomes),
            "failed": len(self.failures),
            "frames": self.frames,
            "masking": {
                "columns": sorted(PERSONAL_COLUMNS),
                "method": MASKING_METHOD,
            },
            "expectations": [o.to_dict() for o in self.outcomes],
        }

    def message(self) -> str:
        """The one-line reason of a failed stage (no personal data)."""
        first = self.failures[0]
        where = f"stage {self.stage}" + (f" [{self.label}]" if self.label else "")
        msg = f"validation failed: {where}, frame {first.frame}: {first.summary()}"
        more = len(self.failures) - 1
        if more:
            msg += f"; {more} more failed expectation{'s' if more > 1 else ''}"
        if self.json_path:
            msg += f" (see {self.json_path})"
        return one_line(msg)
