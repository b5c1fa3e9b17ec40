"""Settings: every number that rules.md marks *(setting)*, with its default.

Read from a TOML file: ``$RETIRE_PREP_SETTINGS`` if set, else
``data/settings.toml`` in the project.  Keys not in the file keep their
defaults.  The pseudonymisation key (outputs.md: ``person_key`` is a keyed
hash) comes from ``$RETIRE_PREP_PERSON_KEY``, else the file named by
``$RETIRE_PREP_PERSON_KEY_FILE`` (production: readable by the service user only;
``deploy/``), else the ``person_key_secret`` entry of the file, never from the code;
the shipped demo file holds a demo key.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from . import DATA_DIR


def _default_stage_days() -> dict[str, int]:
    # Days an entry may stay in a stage before it is overdue (rules.md §7, setting).
    return {
        "ENROLLED": 10,
        "NOTIFIED": 20,
        "ARCHIVE_REVIEWED": 30,
        "YEARS_CONFIRMED": 30,
        "RELATIONS_MERGED": 20,
        "CONCLUDED": 20,
        "CONFIRMED": 30,
        "DECLARED": 30,
    }


#: the only timezone of dates and schedules: the DAGs, the connections and the SQL name it themselves
TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Settings:
    # rules.md §1
    flexible_women_original_age: int = 55
    benefit_start_offset: int = 1
    # rules.md §3
    application_horizon: int = 24
    screening_horizon: int = 24
    scope_window: int = 12
    ningdong_code: str = "640900"
    # issue 18: months forecast by each run (OUT/P/forecast/, pipelines/forecast.py)
    forecast_horizon: int = 12
    # rules.md §5
    overdue_every_months: int = 3
    sms_signature: str = "【宁夏人社】"
    # rules.md §7
    objection_working_days: int = 15
    stage_days: dict[str, int] = field(default_factory=_default_stage_days)
    # push-format.md
    bad_row_share: float = 0.05
    # a FULL that would mark more than this share of the persons in the push as having left it (and at
    # least full_departure_min_persons of them) is refused until accepted by name (docs/decisions.md)
    full_departure_max_share: float = 0.5
    full_departure_min_persons: int = 1000
    # Great Expectations on large frames (a batch's persons, the month's screening, ledger and
    # worklists): validated whole up to this many persons; above it, a deterministic hash sample
    # of about this size (the SQL of every stage still covers every row). 0 = always whole.
    validation_max_rows: int = 100_000
    # DuckDB's memory limit per connection (it spills to disk above it); "" = DuckDB's default
    # (80 % of RAM), which lets one run take most of a shared machine.  1GB keeps every command
    # within 2 GiB at any population (issue 19): the rest of a process is Python, Great
    # Expectations and its bounded frames, and the Arrow batches of the files being written.
    duckdb_memory_limit: str = "1GB"
    # Where DuckDB spills what does not fit in that limit (sorts, joins, aggregates larger than
    # memory): "" = the folder ``<warehouse>.tmp`` beside the warehouse; a relative path is taken
    # from the warehouse's folder.  Emptied by DuckDB when the connection closes.
    duckdb_temp_directory: str = ""
    # DuckDB's worker threads per connection (0 = one per core): each thread holds its own share of a
    # large sort, window or aggregate, so fewer threads fit a large month into a smaller limit.
    duckdb_threads: int = 0
    # outputs.md
    person_key_secret: str = ""
    # issue 16: each office's worklist.xlsx beside its Parquet and CSV (off only to measure its cost)
    worklist_workbooks: bool = True
    # issue 16 (eighth session): the feedback inbox takes a file once it has not changed for this
    # many seconds (a file still being uploaded would be applied with its last row cut)
    feedback_settle_seconds: int = 120
    # issue 17: the analysts' file beside the warehouse, brought up to date after every writing
    # command (off only for a warehouse no analyst reads, e.g. the test suite's small ones)
    analysts_file: bool = True
    # No code acts on it: the DAGs' schedules (dags/), orchestration.TIMEZONE (the month of a run), the
    # connections' TimeZone (warehouse.connect, analysts) and the SQL (sql/warehouse/views.sql,
    # sql/analysts/, sql/feedback/) name Asia/Shanghai themselves; changing it changes no output (the
    # next run screens everyone afresh: screen.rules_fingerprint hashes every setting).
    # Kept so that a settings file copied from data/settings.toml still loads (unknown keys are refused).
    # Any other value is refused (load_settings): it would be ignored.
    timezone: str = "Asia/Shanghai"

    def with_overrides(self, **kw) -> "Settings":
        return replace(self, **kw)


def _refuse(message: str):
    from .errors import RetirePrepError

    return RetirePrepError(message)


def _read_toml(p: Path, named_by: str) -> dict:
    """The TOML file ``p`` as a dict; a file that is missing (when named), unreadable or not
    TOML is refused in one line naming ``named_by`` (how the path was given), the path, the
    reason and the fix (issue 14 item 6)."""
    fix_path = (
        f"correct {named_by}, or unset it to use the defaults of {DATA_DIR / 'settings.toml'}"
        if named_by == "RETIRE_PREP_SETTINGS"
        else f"correct {named_by}"
    )
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise _refuse(f"settings file {p} (from {named_by}) does not exist: {fix_path}") from None
    except IsADirectoryError:
        raise _refuse(f"settings file {p} (from {named_by}) is a folder, not a file: {fix_path}") from None
    except PermissionError:
        raise _refuse(
            f"settings file {p} (from {named_by}) cannot be read (permission denied): let this user read it"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        # the parser's message names the line and column ("… (at line 3, column 7)"), never a value
        raise _refuse(f"settings file {p} is not valid TOML: {exc}; correct the file") from None
    except UnicodeDecodeError:
        raise _refuse(f"settings file {p} is not UTF-8 text: save it as UTF-8") from None


def _check_types(p: Path, values: dict) -> None:
    """A value of the wrong type (``application_horizon = "24"``) is refused, not carried into
    the SQL; an int is accepted where a float is expected."""
    defaults = Settings()
    for name, value in values.items():
        want = type(getattr(defaults, name))
        ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if want is dict:
            ok = isinstance(value, dict) and all(isinstance(v, int) and not isinstance(v, bool) for v in value.values())
        if not ok:
            shown = (
                "a table of integers"
                if want is dict
                else {int: "an integer", float: "a number", str: "a string"}.get(want, want.__name__)
            )
            raise _refuse(f"settings file {p}: {name} must be {shown}; correct the file")


def _months(lo: int, hi: int):
    return (lambda v: lo <= v <= hi, f"a whole number of months from {lo} to {hi}")


_MEMORY = re.compile(r"\s*[0-9]+(\.[0-9]+)?\s*([KMGT]i?B?|B)\s*|\s*[0-9]{1,2}(\.[0-9]+)?\s*%\s*", re.IGNORECASE)


def _memory_bytes(v: str) -> float:
    """The bytes a DuckDB memory limit names (a share of memory counts as enough when above 0 %);
    -1 when it is not one DuckDB reads as a limit ("0GB", "100B" and "0%" make every query fail)."""
    m = _MEMORY.fullmatch(v)
    if m is None:
        return -1
    if v.strip().endswith("%"):
        return float("inf") if float(v.strip()[:-1]) > 0 else -1
    number = float(re.match(r"\s*([0-9.]+)", v).group(1))
    unit = re.sub(r"[^A-Za-z]", "", v).upper()
    power = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4}[unit[0]]
    return number * (1024 if "I" in unit else 1000) ** power


#: the values each setting may take (rules.md marks each *(setting)*): a clumsy edit of the file
#: (``bad_row_share = 5`` meant as 5 %, ``overdue_every_months = 0``, ``duckdb_memory_limit =
#: "-1GB"``, which DuckDB reads as no limit) is refused when the settings are loaded, naming the
#: key and what it may be, never carried into a rule or a run
_ALLOWED = {
    "flexible_women_original_age": (
        lambda v: v in (50, 55),
        "50 or 55 (the original ages of 国发〔1978〕104号, each with its delay table)",
    ),
    "benefit_start_offset": _months(0, 12),
    "application_horizon": _months(0, 120),
    "screening_horizon": _months(0, 120),
    "scope_window": _months(0, 120),
    "ningdong_code": (lambda v: re.fullmatch(r"[0-9]{6}", v) is not None, "six digits"),
    "forecast_horizon": _months(1, 60),
    "overdue_every_months": _months(1, 120),
    "sms_signature": (lambda v: 0 < len(v.strip()) <= 20, "the signature text, 1 to 20 characters"),
    "objection_working_days": (lambda v: 1 <= v <= 60, "a whole number of working days from 1 to 60"),
    "duckdb_memory_limit": (
        lambda v: v == "" or _memory_bytes(v) >= 64 * 1000**2,
        'a size of at least 64MB ("1GB", "2GiB") or a share of memory ("50%")',
    ),
    "duckdb_threads": (lambda v: 0 <= v <= 1024, "0 (one per core) or a number of threads"),
    "bad_row_share": (lambda v: 0 <= v <= 1, "a share from 0 to 1 (0.05 is 5 %)"),
    "full_departure_max_share": (lambda v: 0 < v <= 1, "a share above 0, at most 1 (0.5 is half)"),
    "full_departure_min_persons": (lambda v: v >= 0, "a number of persons, 0 or more"),
    "feedback_settle_seconds": (lambda v: 0 <= v <= 86400, "seconds from 0 to 86400"),
    "validation_max_rows": (lambda v: v >= 0, "a number of rows, 0 or more (0 = always whole)"),
}


def _check_values(p: Path, values: dict) -> None:
    """A value of the right type but outside what the setting may be is refused in one line."""
    for name, value in values.items():
        allowed = _ALLOWED.get(name)
        if allowed is not None and not allowed[0](value):
            raise _refuse(
                f"settings file {p}: {name} = {value!r} is not allowed: it must be {allowed[1]}; correct the file"
            )
    days = values.get("stage_days", {})
    unknown = sorted(set(days) - set(_default_stage_days()))
    if unknown:
        raise _refuse(
            f"settings file {p}: [stage_days] has no stage {', '.join(unknown)}: the stages are "
            f"{', '.join(_default_stage_days())}; correct the file"
        )
    bad = sorted(st for st, d in days.items() if not 1 <= d <= 365)
    if bad:
        raise _refuse(f"settings file {p}: [stage_days] {', '.join(bad)} must be from 1 to 365 days; correct the file")


def load_settings(path: str | Path | None = None) -> Settings:
    """Load settings from TOML (see module doc); unknown keys are an error.

    A file named by ``path`` or ``$RETIRE_PREP_SETTINGS`` must exist: a mistyped name must not
    run on the defaults (a woman's statutory age would silently change).  Only the project's
    own ``data/settings.toml`` may be absent (then every setting has its default).
    """
    if path:
        p, named_by = Path(path), "the settings path given"
    elif os.environ.get("RETIRE_PREP_SETTINGS"):
        p, named_by = Path(os.environ["RETIRE_PREP_SETTINGS"]), "RETIRE_PREP_SETTINGS"
    else:
        p, named_by = DATA_DIR / "settings.toml", ""
    values: dict = {}
    if named_by or p.exists():
        values = _read_toml(p, named_by or str(p))
    known = {f.name for f in fields(Settings)}
    unknown = set(values) - known
    if unknown:
        raise _refuse(f"settings file {p}: unknown keys {sorted(unknown)}")
    _check_types(p, values)
    _check_values(p, values)
    if values.get("timezone", TIMEZONE) != TIMEZONE:
        # the code names Asia/Shanghai itself (the field's comment): another zone would be silently ignored
        raise _refuse(
            f"settings file {p}: timezone {values['timezone']!r} is not supported: dates and schedules are "
            f"{TIMEZONE} (the DAGs, the connections and the SQL name it); remove the key or set it to {TIMEZONE!r}"
        )
    if "stage_days" in values:
        values["stage_days"] = {**_default_stage_days(), **values["stage_days"]}
    env_key = os.environ.get("RETIRE_PREP_PERSON_KEY") or _person_key_from_file()
    if env_key:
        values["person_key_secret"] = env_key
    return Settings(**values)


def _person_key_from_file() -> str | None:
    """The key from ``$RETIRE_PREP_PERSON_KEY_FILE`` (its first line, stripped), if that is set."""
    name = os.environ.get("RETIRE_PREP_PERSON_KEY_FILE")
    if not name:
        return None
    from .errors import RetirePrepError

    try:
        key = Path(name).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise RetirePrepError(
            f"RETIRE_PREP_PERSON_KEY_FILE {name}: cannot be read ({exc.__class__.__name__}); "
            f"it must exist and be readable by the service user"
        ) from None
    if not key:
        raise RetirePrepError(f"RETIRE_PREP_PERSON_KEY_FILE {name} is empty")
    return key
