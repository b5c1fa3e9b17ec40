"""Validation of each stage's frames with Great Expectations (outputs.md ``validation/``).

One suite per stage, stored as GX 1.x suite JSON in ``expectations/<stage>.json``:
``name`` (= the stage), ``meta.frames`` (frame name → what it is) and
``expectations`` (each ``type``, ``kwargs`` and ``meta`` with ``frame``, the
frame it applies to, and ``why``, its business meaning).  ``kwargs`` may use
GX suite parameters ``{"$PARAMETER": name}``; the values come from the settings:

* ``office_codes`` — the 29 offices of rules.md §3 (Ningdong's code is a setting);
* ``sms_signature_regex`` — ``^`` + the escaped SMS signature (rules.md §5, a setting);
* ``scope_window`` — the 12 months of rules.md §3 (a) and (c) (a setting);
* ``forecast_horizon`` — the months each run forecasts (issue 18, a setting).

:func:`validate_frames` runs the suite's expectations for every frame on
pandas DataFrames (GX's SQL datasource on DuckDB is not used: take frames
from DuckDB with ``.df()`` or Arrow), writes ``<stage>.json`` and
``<stage>.html`` plus an ``index.html`` of every result in the folder, and
raises :class:`~pipelines.errors.ValidationFailed` with a one-line reason when
any expectation fails.  The caller then publishes nothing of that stage.

The package: ``suites`` (reading and checking the suite files, their parameters),
``gx`` (the Great Expectations adapter: context, warm-up, running a suite on a frame),
``frames`` (helpers for the stages building frames: bounded samples, independent columns),
``masking`` (personal data), ``results`` (outcomes and the failure message) and ``page``
(the JSON and HTML files; template ``templates/validation/results.html.j2``).
The office codes come from ``pipelines.offices`` (data/offices.csv).

Rules worth knowing when writing expectations:

* Row-level expectations (in set, regex, unique, pairs) ignore missing values
  and pass on an empty frame.  Where a value is required the suite says so
  with ``expect_column_values_to_not_be_null``; where emptiness means a broken
  stage (the pushed population, its screening, the batch accounting) the
  suite has ``expect_table_row_count_to_be_between`` with ``min_value`` 1.  An
  empty worklist, SMS batch, ledger or declaration list is a legitimate month
  (a small office, nobody due) and passes, but its column contract
  (``expect_table_columns_to_match_set``) is still checked.
* Regexes end in ``\\Z``, not ``$``: GX's pandas engine uses ``re.search``, and
  ``$`` also matches before a trailing newline.
* Pair comparisons raise on pandas' nullable dtypes holding ``<NA>`` (``boolean
  value of NA is ambiguous``); the columns of pair expectations are therefore
  converted to float64 (NaN) when they are nullable integers or floats.
* GX's ``ExpectationSuite(expectations=[...])`` *logs and drops* an invalid
  expectation; ``gx`` builds each expectation itself and refuses the
  suite file instead, and checks that every expectation produced a result.

Personal data: results on disk and in messages never hold a raw value of the
columns in :data:`PERSONAL_COLUMNS` (``masking``).

Great Expectations is imported lazily (DAG files import this package when they
are parsed) and one ephemeral context is kept per process, with analytics and
progress bars off.  Importing the package loads neither GX nor pandas.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import ValidationFailed
from ..offices import office_codes
from .frames import expected_sms_segments, sample_clause
from .gx import as_dataframe, gx_context, validate_frame, warm_up
from .masking import PERSONAL_COLUMNS, Masker, scrub
from .page import write_index, write_results
from .results import EXAMPLES, ExpectationOutcome, StageResult
from .suites import STAGES, SUITE_PARAMETERS, load_suite, suite_parameters

if TYPE_CHECKING:  # pragma: no cover
    from ..settings import Settings

log = logging.getLogger(__name__)


def _check_frames(expected: tuple[str, ...], frames: Mapping[str, Any], where: str) -> None:
    """Every frame the suite names is given, and no other: nothing validated silently or skipped."""
    missing = [f for f in expected if f not in frames]
    unknown = [f for f in frames if f not in expected]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"frame(s) {', '.join(missing)} not given")
        if unknown:
            parts.append(f"frame(s) {', '.join(map(str, unknown))} not in the suite")
        raise ValidationFailed(f"validation: {where}: " + "; ".join(parts))


def validate_frames(
    stage: str,
    frames: Mapping[str, Any],
    out_dir: Path | str | None,
    *,
    label: str = "",
    settings: "Settings | None" = None,
    raise_on_failure: bool = True,
    populations: "Mapping[str, int] | None" = None,
) -> StageResult:
    """Validate ``frames`` against ``expectations/<stage>.json``; write results; raise if any fails.

    ``frames`` maps each frame the suite names (``meta.frames``) to a pandas
    DataFrame (a pyarrow Table is converted).  A frame the suite names but
    ``frames`` lacks, or a frame the suite does not know, is an error: nothing
    is validated silently or skipped.  ``label`` distinguishes several runs of
    one stage in one folder (e.g. the office of a worklist): the files are
    ``<stage>-<label>.json/.html``.  With ``out_dir`` None nothing is written.

    Raises :class:`ValidationFailed` (one line, no personal data) when an
    expectation fails, after writing the results; ``raise_on_failure=False``
    returns the failed :class:`StageResult` instead.

    ``populations`` gives, for a frame that is a sample (:func:`sample_clause`), the number of
    rows it was drawn from: the results then say the frame was sampled, and at what rate.
    """
    started = time.perf_counter()
    if settings is None:
        from ..settings import load_settings

        settings = load_settings()
    spec = load_suite(stage)
    where = f"stage {stage}" + (f" [{label}]" if label else "")
    _check_frames(spec.frames, frames, where)
    dfs = {name: as_dataframe(name, frames[name]) for name in spec.frames}

    params = suite_parameters(settings)
    mask = Masker(settings)
    outcomes: list[ExpectationOutcome] = []
    frame_info: dict[str, dict] = {}
    for name in spec.frames:
        df = dfs[name]
        got = validate_frame(spec, name, df, params, mask)
        outcomes.extend(got)
        population = int((populations or {}).get(name, len(df)))
        frame_info[name] = {
            "rows": int(len(df)),
            "population": population,
            "sampled": population > len(df),
            "columns": [str(c) for c in df.columns],
            "success": all(o.success for o in got),
        }
    result = StageResult(
        stage=stage,
        label=label,
        success=all(o.success for o in outcomes),
        outcomes=tuple(outcomes),
        frames=frame_info,
        seconds=time.perf_counter() - started,
    )
    if out_dir is not None:
        result = write_results(result, Path(out_dir))
    log.info(
        "validation %s: %d expectations, %d failed, %.2fs", where, len(outcomes), len(result.failures), result.seconds
    )
    if not result.success and raise_on_failure:
        err = ValidationFailed(result.message())
        err.result = result
        raise err
    return result


__all__ = [
    "EXAMPLES",
    "PERSONAL_COLUMNS",
    "STAGES",
    "SUITE_PARAMETERS",
    "ExpectationOutcome",
    "StageResult",
    "expected_sms_segments",
    "gx_context",
    "load_suite",
    "office_codes",
    "sample_clause",
    "scrub",
    "suite_parameters",
    "validate_frames",
    "warm_up",
    "write_index",
]
