"""Great Expectations' verdict on a frame it has already judged, from memory (the suite's time,
eighteenth session; docs/decisions.md "The fault sweep: GX's verdict on a frame it has judged").

The fault sweep (tests/robustness/test_fault_injection.py) runs every command of its scenario
again and again from the same start: the reference, its reproduction, and for every point a faulted
attempt and a rerun. Their validation steps hand GX the same frames, byte for byte, dozens of times;
GX's graph of metrics (≈ 0.02–0.05 s an expectation, whatever the frame's size) was half of the
module's CPU. :func:`remembered` keeps, per process, GX's result for (the suite's expectations of
the frame, the frame, the parameters and result format) and gives it back when all of them are the
same again. Everything around it runs as before: the product's ``validate_frames`` and
``validate_frame`` (the suite built and checked, the frame prepared, every expectation's result
looked up, masked, written to the results page, a failure raised), and the injection points of
the sweep, none of which is inside GX (GX neither runs SQL on the warehouse nor moves a file of
``pipelines``). A frame not seen before (a timestamp, a fault that changed the data) is judged by
GX itself.

The key is the frame pickled whole (columns, dtypes, index, values: two frames with the same
pickle are the same frame), hashed with SHA-256; the suite's part is the JSON of the stage's
expectations (``expectations/<stage>.json`` as loaded). GX's result objects are only read by
``validate_frame`` (``_outcome``), so one object can be handed out twice.

``RETIRE_PREP_GX_MEMO=check``: every remembered verdict is also computed again by GX and the two
must agree, expectation by expectation (success, result, exception): the proof that memory and GX
give the same, for a future GX.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle

import pipelines.validate
import pipelines.validate.gx as gx_adapter

_real_validate_frame = pipelines.validate.validate_frame
_real_batch_definition = gx_adapter.batch_definition
CHECK = os.environ.get("RETIRE_PREP_GX_MEMO") == "check"


def _digest(obj) -> str:
    return hashlib.sha256(obj if isinstance(obj, bytes) else obj.encode()).hexdigest()


def _essence(res) -> list:
    """What validate_frame reads of GX's result, per expectation, in GX's order."""
    return [
        (
            (r.expectation_config.meta or {}).get("_n"),
            r.expectation_config.type,
            json.dumps(r.expectation_config.kwargs, sort_keys=True, default=repr),
            bool(r.success),
            json.dumps(r.result, sort_keys=True, default=repr),
            json.dumps(r.exception_info, sort_keys=True, default=repr),
        )
        for r in res.results
    ]


class Memo:
    def __init__(self):
        self.results: dict[tuple, object] = {}
        self.suite_key: str | None = None  # the suite of the frame being validated (set by validate_frame)
        self.hits = self.misses = 0

    def validate_frame(self, spec, frame, df, params, mask):
        self.suite_key = _digest(json.dumps([spec.stage, frame, list(spec.expectations)], sort_keys=True, default=repr))
        try:
            return _real_validate_frame(spec, frame, df, params, mask)
        finally:
            self.suite_key = None

    def batch_definition(self):
        return _BatchDefinition(self, _real_batch_definition())


class _BatchDefinition:
    def __init__(self, memo: Memo, real):
        self._memo, self._real = memo, real

    def get_batch(self, batch_parameters=None, **kw):
        if self._memo.suite_key is None or kw or set(batch_parameters or {}) != {"dataframe"}:
            return self._real.get_batch(batch_parameters=batch_parameters, **kw)
        return _Batch(self._memo, self._real, batch_parameters["dataframe"])

    def __getattr__(self, name):
        return getattr(self._real, name)


class _Batch:
    """The batch of one frame, made by GX only when GX has to judge it."""

    def __init__(self, memo: Memo, real_bd, data):
        self._memo, self._real_bd, self._data = memo, real_bd, data

    def validate(self, suite, **kw):
        try:
            frame = _digest(pickle.dumps(self._data, protocol=5))
        except Exception:  # a frame that does not pickle: GX judges it
            return self._real(suite, **kw)
        key = (
            self._memo.suite_key,
            suite.name,
            frame,
            json.dumps(kw, sort_keys=True, default=repr),
        )
        hit = self._memo.results.get(key)
        if hit is None:
            self._memo.misses += 1
            self._memo.results[key] = hit = self._real(suite, **kw)
        else:
            self._memo.hits += 1
            if CHECK:
                again = self._real(suite, **kw)
                assert _essence(again) == _essence(hit), f"GX's verdict on {suite.name} changed"
        return hit

    def _real(self, suite, **kw):
        return self._real_bd.get_batch(batch_parameters={"dataframe": self._data}).validate(suite, **kw)


def remembered(mp) -> Memo:
    """GX's verdicts remembered (module docstring), for the monkeypatch ``mp``; the memo (its counts)."""
    memo = Memo()
    mp.setattr(pipelines.validate, "validate_frame", memo.validate_frame)
    mp.setattr(gx_adapter, "batch_definition", memo.batch_definition)
    return memo
