"""The Great Expectations adapter: one ephemeral context per process (analytics and progress bars
off), GX imported lazily and once (DAG files import this package when they are parsed), and the
run of one suite's expectations on one bounded pandas frame (GX's SQL datasource on DuckDB is
broken: frames come from DuckDB with ``.df()`` or Arrow, sampled by :func:`.frames.sample_clause`).

GX's ``ExpectationSuite(expectations=[...])`` *logs and drops* an invalid expectation: this
module builds each expectation itself (:func:`.suites.build_expectations`) and checks that every
expectation produced a result.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import ValidationFailed
from .masking import PERSONAL_COLUMNS, Masker, mask_example, plain, scrub
from .results import EXAMPLES, ExpectationOutcome

if TYPE_CHECKING:  # pragma: no cover
    from .suites import SuiteSpec

log = logging.getLogger("pipelines.validate")

PAIR_TYPES = {
    "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_pair_values_to_be_equal",
}

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


def gx_module():
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


def batch_definition():
    """The process's ephemeral context → pandas datasource → one whole-dataframe batch definition."""
    return _once("bd", _make_batch_definition)


def _make_batch_definition():
    gx = gx_module()
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
            batch_definition()
        except Exception:  # raised again, with its traceback, by the first validation
            log.debug("GX warm-up failed; the first validation will retry", exc_info=True)

    t = threading.Thread(target=work, name="gx-warm-up", daemon=True)
    t.start()
    return t


def gx_context():
    """The process's ephemeral GX context (created on first use)."""
    batch_definition()
    return _state["context"]


# ---------------------------------------------------------------- running a suite on a frame


def columns_of(kwargs: Mapping) -> tuple[str, ...]:
    if "column" in kwargs:
        return (kwargs["column"],)
    if "column_A" in kwargs:
        return (kwargs["column_A"], kwargs["column_B"])
    if "column_list" in kwargs:
        return tuple(kwargs["column_list"])
    return ()


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


def as_dataframe(name: str, frame: Any):
    import pandas as pd

    if isinstance(frame, pd.DataFrame):
        return frame
    if hasattr(frame, "to_pandas"):  # a pyarrow Table or RecordBatch
        return frame.to_pandas()
    raise TypeError(f"validate_frames: frame {name!r} is a {type(frame).__name__}, not a pandas DataFrame")


def prepare_for_gx(df, expectations: list[dict]):
    """Nullable numeric columns of pair expectations → float64 (GX pair metrics fail on <NA>)."""
    import pandas as pd

    cols = {c for e in expectations if e["type"] in PAIR_TYPES for c in columns_of(e["kwargs"])}
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


def _outcome(spec_e: dict, res, mask: Masker, df) -> ExpectationOutcome:
    kwargs = {k: plain(v) for k, v in res.expectation_config.kwargs.items() if k != "batch_id"}
    kwargs.pop("row_condition", None)
    if "row_condition" in spec_e["kwargs"]:
        kwargs["row_condition"] = spec_e["kwargs"]["row_condition"]
    columns = columns_of(spec_e["kwargs"])
    result = res.result or {}
    error = _exception_message(res.exception_info)
    examples = []
    for x in result.get("partial_unexpected_list") or []:
        x = mask_example(x, columns, mask)
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
        element_count=plain(result.get("element_count")),
        unexpected_count=plain(result.get("unexpected_count")),
        unexpected_percent=plain(result.get("unexpected_percent")),
        missing_count=plain(result.get("missing_count")),
        observed_value=plain(observed),
        unexpected_examples=tuple(examples),
        error=error,
    )


def validate_frame(spec: SuiteSpec, frame: str, df, params: dict, mask: Masker) -> list[ExpectationOutcome]:
    from .suites import build_expectations

    gx = gx_module()
    mine = [(i, e) for i, e in enumerate(spec.expectations) if e["meta"]["frame"] == frame]
    # Not added to the context: nothing is stored, the suite lives for this call only.
    suite = gx.ExpectationSuite(name=f"{spec.stage}.{frame}", expectations=build_expectations(spec, frame))
    if len(suite.expectations) != len(mine):  # GX logs and drops what it cannot build
        raise ValidationFailed(f"validation: suite {spec.stage}.json, frame {frame}: GX dropped expectations")
    data = prepare_for_gx(df, [e for _, e in mine])
    with _lock:
        batch = batch_definition().get_batch(batch_parameters={"dataframe": data})
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
                    columns_of(e["kwargs"]),
                    e["kwargs"],
                    e["meta"]["why"],
                    False,
                    error="no result from Great Expectations",
                )
            )
        else:
            out.append(_outcome(e, r, mask, df))
    return out
