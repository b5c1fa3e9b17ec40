"""The suites: one per stage, GX 1.x suite JSON in ``expectations/<stage>.json``, checked when read
(every expectation with a frame and a ``why``, known ``$PARAMETER`` references, buildable by GX),
and the values of their parameters from the settings."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ValidationFailed
from ..offices import office_codes
from .gx import gx_module
from .masking import one_line

if TYPE_CHECKING:  # pragma: no cover
    from ..settings import Settings

STAGES = ("raw", "ingest", "screen", "ledger", "notices", "forecast", "worklists", "declarations")

SUITE_PARAMETERS = ("office_codes", "sms_signature_regex", "scope_window", "forecast_horizon")


def suite_parameters(settings: "Settings") -> dict[str, Any]:
    """Values of the ``$PARAMETER`` references the suites may use."""
    return {
        "office_codes": office_codes(settings),
        "sms_signature_regex": "^" + re.escape(settings.sms_signature),
        "scope_window": settings.scope_window,
        "forecast_horizon": settings.forecast_horizon,
    }


@dataclass(frozen=True)
class SuiteSpec:
    stage: str
    frames: tuple[str, ...]
    expectations: tuple[dict, ...]  # each: type, kwargs, meta (frame, why)


_spec_cache: dict[Path, tuple[int, SuiteSpec]] = {}


def _expectations_dir() -> Path:
    import pipelines

    return Path(pipelines.EXPECTATIONS_DIR)


def load_suite(stage: str, directory: Path | None = None) -> SuiteSpec:
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
    spec = SuiteSpec(stage, tuple(declared), tuple(exps))
    build_expectations(spec)  # refuse a suite GX cannot build, now rather than at run time
    _spec_cache[path] = (mtime, spec)
    return spec


def build_expectations(spec: SuiteSpec, frame: str | None = None) -> list:
    """GX Expectation objects; an unknown type or bad kwargs is an error, never dropped."""
    gx_module()
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
                one_line(f"validation: suite {spec.stage}.json: expectation {i} ({e['type']}) is invalid: {msg}")
            ) from None
    return out
