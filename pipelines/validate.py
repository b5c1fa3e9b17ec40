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
``<stage>.html`` (our own self-contained page: GX data docs load their CSS and
scripts from CDNs, so they are not readable offline, and they show raw
unexpected values) plus an ``index.html`` of every result in the folder, and
raises :class:`~pipelines.errors.ValidationFailed` with a one-line reason when
any expectation fails.  The caller then publishes nothing of that stage.

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
  expectation; this module builds each expectation itself and refuses the
  suite file instead, and checks that every expectation produced a result.

Personal data: results on disk and in messages never hold a raw value of the
columns in :data:`PERSONAL_COLUMNS`; unexpected examples of those columns are
replaced by a keyed hash (for ``id_no`` the warehouse's ``person_key`` when a
key is configured, so an analyst can find the person in the views).

Great Expectations is imported lazily (DAG files import this module when they
are parsed) and one ephemeral context is kept per process, with analytics and
progress bars off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import secrets
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .errors import ValidationFailed

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .settings import Settings

log = logging.getLogger(__name__)

STAGES = ("raw", "ingest", "screen", "ledger", "notices", "forecast", "worklists", "declarations")

# Columns whose values are personal data (SMS text carries the name, the
# responsible officer is a staff member's name): never written raw.
PERSONAL_COLUMNS = frozenset({"id_no", "name", "phone", "text", "responsible_officer"})

EXAMPLES = 3  # unexpected examples kept per expectation

# rules.md §3: the offices; Ningdong's code is the setting ``ningdong_code``.
_FIXED_OFFICES = (
    "640000",
    "640100",
    "640200",
    "640300",
    "640400",
    "640500",
    "640104",
    "640105",
    "640106",
    "640121",
    "640122",
    "640181",
    "640202",
    "640205",
    "640221",
    "640302",
    "640303",
    "640323",
    "640324",
    "640381",
    "640402",
    "640422",
    "640423",
    "640424",
    "640425",
    "640502",
    "640521",
    "640522",
)

_PAIR_TYPES = {
    "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_pair_values_to_be_equal",
}


def office_codes(settings: "Settings") -> list[str]:
    """The 29 responsible offices (rules.md §3), Ningdong's code from the settings."""
    return sorted({*_FIXED_OFFICES, settings.ningdong_code})


SUITE_PARAMETERS = ("office_codes", "sms_signature_regex", "scope_window", "forecast_horizon")


def suite_parameters(settings: "Settings") -> dict[str, Any]:
    """Values of the ``$PARAMETER`` references the suites may use."""
    return {
        "office_codes": office_codes(settings),
        "sms_signature_regex": "^" + re.escape(settings.sms_signature),
        "scope_window": settings.scope_window,
        "forecast_horizon": settings.forecast_horizon,
    }


def sample_clause(n_rows: int, settings: "Settings", key: str = "id_no") -> str:
    """SQL condition keeping a deterministic hash sample of about ``validation_max_rows`` rows
    (``TRUE`` when the frame is small enough to validate whole)."""
    cap = settings.validation_max_rows
    if not cap or n_rows <= cap:
        return "TRUE"
    return f"hash({key}) % {-(-n_rows // cap)} = 0"


def expected_sms_segments(texts: "pd.Series") -> "pd.Series":
    """rules.md §5 segment count of each text: 1 up to 70 characters, else ⌈length / 67⌉.

    For callers building the ``expected_segments`` column of the ``sms`` frame:
    computed here in Python, independently of the SQL that fills ``segments``.
    """
    n = texts.str.len().astype("int64")
    return ((n + 66) // 67).where(n > 70, 1)


# ---------------------------------------------------------------- results


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
            detail = f"observed {_one_line(self.observed_value)}"
        if self.unexpected_examples and self.type != "expect_table_columns_to_match_set":
            detail += ", e.g. " + ", ".join(_one_line(v) for v in self.unexpected_examples[:EXAMPLES])
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
                "method": "keyed sha256; id_no as pk:<person_key> when a person key is configured",
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
        return _one_line(msg)


# ---------------------------------------------------------------- suites


@dataclass(frozen=True)
class _Spec:
    stage: str
    frames: tuple[str, ...]
    expectations: tuple[dict, ...]  # each: type, kwargs, meta (frame, why)


_spec_cache: dict[Path, tuple[int, _Spec]] = {}


def _expectations_dir() -> Path:
    import pipelines

    return Path(pipelines.EXPECTATIONS_DIR)


def load_suite(stage: str, directory: Path | None = None) -> _Spec:
    """Read and check ``expectations/<stage>.json`` (cached on the file's mtime)."""
    path = Path(directory or _expectations_dir()) / f"{stage}.json"
    if not path.is_file():
        raise ValidationFailed(f"validation: no suite for stage {stage!r} ({path})")
    mtime = path.stat().st_mtime_ns
    hit = _spec_cache.get(path)
    if hit and hit[0] == mtime:
        return hit[1]

    def bad(why: str) -> ValidationFailed:
        return ValidationFailed(f"validation: suite {path.name}: {why}")

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise bad(f"unreadable JSON ({exc})") from None
    if doc.get("name") != stage:
        raise bad(f"name is {doc.get('name')!r}, expected {stage!r}")
    declared = (doc.get("meta") or {}).get("frames")
    if not isinstance(declared, dict) or not declared:
        raise bad("meta.frames must name the frames the suite validates")
    exps = doc.get("expectations")
    if not isinstance(exps, list) or not exps:
        raise bad("no expectations")
    used: set[str] = set()
    for i, e in enumerate(exps):
        meta = e.get("meta") or {}
        if not isinstance(e.get("type"), str) or not isinstance(e.get("kwargs"), dict):
            raise bad(f"expectation {i}: needs type and kwargs")
        if meta.get("frame") not in declared:
            raise bad(f"expectation {i} ({e['type']}): meta.frame {meta.get('frame')!r} not in meta.frames")
        if not meta.get("why"):
            raise bad(f"expectation {i} ({e['type']}): meta.why (business meaning) is missing")
        for v in e["kwargs"].values():
            if isinstance(v, dict) and "$PARAMETER" in v and v["$PARAMETER"] not in SUITE_PARAMETERS:
                raise bad(f"expectation {i} ({e['type']}): unknown $PARAMETER {v['$PARAMETER']!r}")
        used.add(meta["frame"])
    unused = set(declared) - used
    if unused:
        raise bad(f"frames without expectations: {sorted(unused)}")
    spec = _Spec(stage, tuple(declared), tuple(exps))
    _build_expectations(spec)  # refuse a suite GX cannot build, now rather than at run time
    _spec_cache[path] = (mtime, spec)
    return spec


def _build_expectations(spec: _Spec, frame: str | None = None) -> list:
    """GX Expectation objects; an unknown type or bad kwargs is an error, never dropped."""
    _gx()
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    out = []
    for i, e in enumerate(spec.expectations):
        if frame is not None and e["meta"]["frame"] != frame:
            continue
        try:
            cfg = ExpectationConfiguration(type=e["type"], kwargs=dict(e["kwargs"]), meta={**e["meta"], "_n": i})
            out.append(cfg.to_domain_obj())
        except Exception as exc:  # GX raises several types for a bad configuration
            msg = getattr(exc, "message", None) or str(exc)
            raise ValidationFailed(
                _one_line(f"validation: suite {spec.stage}.json: expectation {i} ({e['type']}) is invalid: {msg}")
            ) from None
    return out


# ---------------------------------------------------------------- GX runtime

_lock = threading.RLock()
_state: dict[str, Any] = {}


def _once(key: str, make):
    """The process-wide value ``key``, made by ``make()`` on first use (thread-safe)."""
    value = _state.get(key)
    if value is not None:
        return value
    with _lock:
        if key not in _state:
            _state[key] = make()
        return _state[key]


def _gx():
    """Import Great Expectations once, quietly, with analytics off."""
    return _once("gx", _import_gx)


def _import_gx():
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    gx_log = logging.getLogger("great_expectations")
    if gx_log.level == logging.NOTSET:  # leave an operator's explicit choice alone
        gx_log.setLevel(logging.WARNING)
    # GX's import touches deprecated stdlib modules (sre_constants, sre_parse). A targeted filter,
    # not catch_warnings(): that swaps the process-wide filters and is not safe in the warm-up thread.
    warnings.filterwarnings("ignore", message=r"module 'sre_\w+' is deprecated", category=DeprecationWarning)
    import great_expectations as gx

    return gx


def _batch_definition():
    """The process's ephemeral context → pandas datasource → one whole-dataframe batch definition."""
    return _once("bd", _make_batch_definition)


def _make_batch_definition():
    gx = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    context.enable_analytics(False)
    asset = context.data_sources.add_pandas("retire_prep").add_dataframe_asset("frame")
    _state["context"] = context
    return asset.add_batch_definition_whole_dataframe("whole_frame")


def warm_up() -> threading.Thread:
    """Import Great Expectations and make the context in a background thread.

    The import takes about 3 s of one core; a stage's SQL runs in DuckDB's own threads
    without Python's lock, so a command that starts this first and validates later does not
    wait for the import on top of its SQL.  The first validation waits for the thread (the
    same once-only lock); an error in the thread is raised again there, on first use.
    """

    def work():
        try:
            _batch_definition()
        except Exception:  # raised again, with its traceback, by the first validation
            log.debug("GX warm-up failed; the first validation will retry", exc_info=True)

    t = threading.Thread(target=work, name="gx-warm-up", daemon=True)
    t.start()
    return t


def gx_context():
    """The process's ephemeral GX context (created on first use)."""
    _batch_definition()
    return _state["context"]


# ---------------------------------------------------------------- masking


class _Masker:
    def __init__(self, settings: "Settings"):
        self.settings = settings
        self.keyed = bool(settings.person_key_secret)
        # without a key: a random one, so masks cannot be matched across runs (or brute-forced)
        self.secret = settings.person_key_secret or secrets.token_hex(16)

    def __call__(self, column: str | None, value: Any) -> Any:
        value = _plain(value)
        if column not in PERSONAL_COLUMNS or value is None:
            return value
        if isinstance(value, (list, dict)):
            return "<masked>"
        s = str(value)
        if column == "id_no" and self.keyed:
            from .warehouse import person_key  # the analysts' views show the same key

            return f"pk:{person_key(s, self.settings)} (len {len(s)})"
        digest = hashlib.sha256((self.secret + "|" + column + "|" + s).encode()).hexdigest()[:12]
        return f"{column}#{digest} (len {len(s)})"


_ID_LIKE = re.compile(r"[0-9]{17}[0-9Xx]|1[3-9][0-9]{9}")


def scrub(text: str) -> str:
    """An exception message on one line, without anything shaped like an ID or mobile number."""
    return _ID_LIKE.sub("<masked>", _one_line(text))[:300]


def _one_line(v: Any) -> str:
    if not isinstance(v, str):
        v = json.dumps(v, ensure_ascii=False, default=str)
    return " ".join(v.split())


def _plain(v: Any) -> Any:
    """JSON-friendly Python value of a numpy/pandas scalar or container."""
    if v is None:
        return None
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [_plain(x) for x in v]
    if isinstance(v, str):
        return v
    import numpy as np
    import pandas as pd

    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (np.datetime64, np.timedelta64)):
        v = pd.Timestamp(v) if isinstance(v, np.datetime64) else pd.Timedelta(v)
        return None if pd.isna(v) else v.isoformat()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (int, float, bool)):
        return v
    if hasattr(v, "isoformat"):  # datetime, date, pandas Timestamp
        return v.isoformat()
    return str(v)


def _columns_of(kwargs: Mapping) -> tuple[str, ...]:
    if "column" in kwargs:
        return (kwargs["column"],)
    if "column_A" in kwargs:
        return (kwargs["column_A"], kwargs["column_B"])
    if "column_list" in kwargs:
        return tuple(kwargs["column_list"])
    return ()


def _mask_example(example: Any, columns: tuple[str, ...], mask: _Masker) -> Any:
    if isinstance(example, dict):
        return {str(k): mask(str(k), v) for k, v in example.items()}
    if isinstance(example, (tuple, list)) and len(columns) == len(example) > 1:
        return [mask(c, v) for c, v in zip(columns, example)]
    if len(columns) == 1:
        return mask(columns[0], example)
    # an example whose columns we cannot tell apart: mask it whole if any column is personal
    if PERSONAL_COLUMNS.intersection(columns):
        return "<masked>"
    return _plain(example)


def _exception_message(info: Any) -> str | None:
    if not isinstance(info, dict) or not info:
        return None
    if "raised_exception" in info:
        return scrub(info.get("exception_message") or "exception") if info.get("raised_exception") else None
    msgs = []
    for sub in info.values():
        if isinstance(sub, dict) and (sub.get("raised_exception", True)) and sub.get("exception_message"):
            msgs.append(scrub(sub["exception_message"]))
    return "; ".join(dict.fromkeys(msgs)) or None


# ---------------------------------------------------------------- validation


def _as_dataframe(name: str, frame: Any):
    import pandas as pd

    if isinstance(frame, pd.DataFrame):
        return frame
    if hasattr(frame, "to_pandas"):  # a pyarrow Table or RecordBatch
        return frame.to_pandas()
    raise TypeError(f"validate_frames: frame {name!r} is a {type(frame).__name__}, not a pandas DataFrame")


def _prepare(df, expectations: list[dict]):
    """Nullable numeric columns of pair expectations → float64 (GX pair metrics fail on <NA>)."""
    import pandas as pd

    cols = {c for e in expectations if e["type"] in _PAIR_TYPES for c in _columns_of(e["kwargs"])}
    fix = [
        c
        for c in cols
        if c in df.columns
        and isinstance(df[c].dtype, pd.api.extensions.ExtensionDtype)
        and pd.api.types.is_numeric_dtype(df[c].dtype)
        and not pd.api.types.is_bool_dtype(df[c].dtype)
    ]
    if not fix:
        return df
    df = df.copy(deep=False)
    for c in fix:
        df[c] = df[c].astype("float64")
    return df


def _outcome(spec_e: dict, res, mask: _Masker, df) -> ExpectationOutcome:
    kwargs = {k: _plain(v) for k, v in res.expectation_config.kwargs.items() if k != "batch_id"}
    kwargs.pop("row_condition", None)
    if "row_condition" in spec_e["kwargs"]:
        kwargs["row_condition"] = spec_e["kwargs"]["row_condition"]
    columns = _columns_of(spec_e["kwargs"])
    result = res.result or {}
    error = _exception_message(res.exception_info)
    examples = []
    for x in result.get("partial_unexpected_list") or []:
        x = _mask_example(x, columns, mask)
        if x not in examples:  # distinct examples say more than three copies of one duplicate
            examples.append(x)
    observed = result.get("observed_value")
    if spec_e["type"] == "expect_table_columns_to_match_set":
        missing = [c for c in spec_e["kwargs"]["column_set"] if c not in df.columns]
        examples = missing[:EXAMPLES] if not res.success else []
        observed = [str(c) for c in df.columns]
    elif (
        observed is not None and PERSONAL_COLUMNS.intersection(columns) and not isinstance(observed, (int, float, bool))
    ):
        observed = "<masked>"
    return ExpectationOutcome(
        frame=spec_e["meta"]["frame"],
        type=spec_e["type"],
        columns=columns,
        kwargs=kwargs,
        why=spec_e["meta"]["why"],
        success=bool(res.success),
        element_count=_plain(result.get("element_count")),
        unexpected_count=_plain(result.get("unexpected_count")),
        unexpected_percent=_plain(result.get("unexpected_percent")),
        missing_count=_plain(result.get("missing_count")),
        observed_value=_plain(observed),
        unexpected_examples=tuple(examples),
        error=error,
    )


def _validate_frame(spec: _Spec, frame: str, df, params: dict, mask: _Masker) -> list[ExpectationOutcome]:
    gx = _gx()
    mine = [(i, e) for i, e in enumerate(spec.expectations) if e["meta"]["frame"] == frame]
    # Not added to the context: nothing is stored, the suite lives for this call only.
    suite = gx.ExpectationSuite(name=f"{spec.stage}.{frame}", expectations=_build_expectations(spec, frame))
    if len(suite.expectations) != len(mine):  # GX logs and drops what it cannot build
        raise ValidationFailed(f"validation: suite {spec.stage}.json, frame {frame}: GX dropped expectations")
    data = _prepare(df, [e for _, e in mine])
    with _lock:
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": data})
        res = batch.validate(
            suite,
            result_format={"result_format": "BASIC", "partial_unexpected_count": EXAMPLES},
            expectation_parameters=params,
        )
    by_n = {}
    for r in res.results:
        n = (r.expectation_config.meta or {}).get("_n")
        by_n[n] = r
    out = []
    for i, e in mine:
        r = by_n.get(i)
        if r is None:  # an expectation without a result must not count as passed
            out.append(
                ExpectationOutcome(
                    frame,
                    e["type"],
                    _columns_of(e["kwargs"]),
                    e["kwargs"],
                    e["meta"]["why"],
                    False,
                    error="no result from Great Expectations",
                )
            )
        else:
            out.append(_outcome(e, r, mask, df))
    return out


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
        from .settings import load_settings

        settings = load_settings()
    spec = load_suite(stage)
    where = f"stage {stage}" + (f" [{label}]" if label else "")
    missing = [f for f in spec.frames if f not in frames]
    unknown = [f for f in frames if f not in spec.frames]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"frame(s) {', '.join(missing)} not given")
        if unknown:
            parts.append(f"frame(s) {', '.join(map(str, unknown))} not in the suite")
        raise ValidationFailed(f"validation: {where}: " + "; ".join(parts))
    dfs = {name: _as_dataframe(name, frames[name]) for name in spec.frames}

    params = suite_parameters(settings)
    mask = _Masker(settings)
    outcomes: list[ExpectationOutcome] = []
    frame_info: dict[str, dict] = {}
    for name in spec.frames:
        df = dfs[name]
        got = _validate_frame(spec, name, df, params, mask)
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
        result = _write(result, Path(out_dir))
    log.info(
        "validation %s: %d expectations, %d failed, %.2fs", where, len(outcomes), len(result.failures), result.seconds
    )
    if not result.success and raise_on_failure:
        err = ValidationFailed(result.message())
        err.result = result
        raise err
    return result


# ---------------------------------------------------------------- writing

_SAFE_LABEL = re.compile(r"[^0-9A-Za-z_.-]+")


def _write(result: StageResult, out_dir: Path) -> StageResult:
    from dataclasses import replace

    out_dir.mkdir(parents=True, exist_ok=True)
    base = result.stage + (("-" + _SAFE_LABEL.sub("_", result.label)) if result.label else "")
    json_path, html_path = out_dir / f"{base}.json", out_dir / f"{base}.html"
    result = replace(result, json_path=json_path, html_path=html_path)
    doc = result.to_dict()
    _atomic_write(json_path, json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n")
    _atomic_write(html_path, _render("stage", r=doc, files=None))
    write_index(out_dir)
    return result


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_index(out_dir: Path) -> None:
    """``index.html`` of every stage result (JSON) in ``out_dir``."""
    rows = []
    for p in sorted(out_dir.glob("*.json")):
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if not isinstance(d, dict) or "stage" not in d or "expectations" not in d:
            continue
        rows.append(
            {
                "stage": d["stage"],
                "label": d.get("label", ""),
                "success": d.get("success"),
                "evaluated": d.get("evaluated"),
                "failed": d.get("failed"),
                "html": p.with_suffix(".html").name,
                "json": p.name,
            }
        )
    order = {s: i for i, s in enumerate(STAGES)}
    rows.sort(key=lambda r: (order.get(r["stage"], 99), r["stage"], r["label"]))
    _atomic_write(out_dir / "index.html", _render("index", r=None, files=rows))


_TEMPLATE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{% if r %}校验结果 validation: {{ r.stage }}{% if r.label %} [{{ r.label }}]{% endif %}{% else %}校验结果 validation{% endif %}</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#f3f3f3}.ok{color:#176f2c;font-weight:bold}.fail{color:#b00020;font-weight:bold}
tr.failed td{background:#fff0f0}code{font-size:90%;word-break:break-all}.small{font-size:85%;color:#555}
</style></head><body>
{% if r %}
<p><a href="index.html">← all stages</a></p>
<h1>Stage <code>{{ r.stage }}</code>{% if r.label %} [{{ r.label }}]{% endif %}:
{% if r.success %}<span class="ok">PASSED</span>{% else %}<span class="fail">FAILED</span>{% endif %}</h1>
<p>{{ r.evaluated }} expectations, {{ r.failed }} failed. Personal values ({{ r.masking.columns|join(", ") }}) are masked: {{ r.masking.method }}.</p>
<h2>Frames</h2>
<table><tr><th>frame</th><th>rows</th><th>result</th><th>columns</th></tr>
{% for name, f in r.frames.items() %}<tr><td><code>{{ name }}</code></td><td>{{ f.rows }}{% if f.sampled %} <span class="small">(a deterministic sample of {{ f.population }} rows; see docs/decisions.md, "GX samples")</span>{% endif %}</td>
<td>{% if f.success %}<span class="ok">passed</span>{% else %}<span class="fail">failed</span>{% endif %}</td>
<td class="small">{{ f.columns|join(", ") }}</td></tr>{% endfor %}
</table>
<h2>Expectations</h2>
<table><tr><th>#</th><th>frame</th><th>expectation</th><th>column(s)</th><th>business meaning</th><th>result</th><th>unexpected</th><th>examples / observed</th></tr>
{% for e in r.expectations %}<tr class="{{ 'passed' if e.success else 'failed' }}"><td>{{ loop.index }}</td><td><code>{{ e.frame }}</code></td>
<td><code>{{ e.type }}</code><div class="small">{% for k, v in e.kwargs.items() if k not in ('column', 'column_A', 'column_B', 'column_list') %}{{ k }}={{ v|tojson }} {% endfor %}</div></td>
<td><code>{{ e.columns|join(", ") }}</code></td><td>{{ e.why }}</td>
<td>{% if e.success %}<span class="ok">passed</span>{% else %}<span class="fail">failed</span>{% endif %}</td>
<td>{% if e.unexpected_count is not none %}{{ e.unexpected_count }} / {{ e.element_count }}{% if e.unexpected_percent %} ({{ '%.2f'|format(e.unexpected_percent) }}%){% endif %}{% endif %}</td>
<td class="small">{% if e.error %}error: {{ e.error }}<br>{% endif %}{% if e.unexpected_examples %}e.g. {% for x in e.unexpected_examples %}<code>{{ x|tojson }}</code> {% endfor %}{% elif e.observed_value is not none %}observed <code>{{ e.observed_value|tojson }}</code>{% endif %}</td></tr>
{% endfor %}</table>
{% else %}
<h1>Validation results</h1>
<table><tr><th>stage</th><th>label</th><th>result</th><th>expectations</th><th>failed</th><th>files</th></tr>
{% for f in files %}<tr class="{{ 'passed' if f.success else 'failed' }}"><td><code>{{ f.stage }}</code></td><td>{{ f.label }}</td>
<td>{% if f.success %}<span class="ok">passed</span>{% else %}<span class="fail">failed</span>{% endif %}</td>
<td>{{ f.evaluated }}</td><td>{{ f.failed }}</td><td><a href="{{ f.html }}">page</a> · <a href="{{ f.json }}">json</a></td></tr>
{% endfor %}</table>
{% endif %}
</body></html>
"""


def _render(kind: str, r: dict | None, files: list | None) -> str:
    import jinja2

    template = _state.get("template")
    if template is None:
        env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
        env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False, "default": str}
        template = _state["template"] = env.from_string(_TEMPLATE)
    return template.render(r=r, files=files)


__all__ = [
    "PERSONAL_COLUMNS",
    "STAGES",
    "SUITE_PARAMETERS",
    "ExpectationOutcome",
    "StageResult",
    "expected_sms_segments",
    "gx_context",
    "load_suite",
    "office_codes",
    "suite_parameters",
    "validate_frames",
]
