"""Deterministic generator of ministry push batches (push-format.md) — GENERATED DATA ONLY.

Every person written here is synthetic: names are random combinations of common
surname and given-name characters, ID numbers are random valid GB 11643 numbers,
employers are invented ("…样例…有限公司"), phones are random digits. Nothing is
drawn from real people.

Same arguments → byte-identical files (no wall clock, no hash randomisation:
every draw comes from ``numpy.random.default_rng([seed, stream, chunk])``).
Persons are produced in vectorised chunks of ``draw.CHUNK`` persons and written
chunk by chunk, so 1,000,000 persons stream through a few hundred MB at most.

Public API
----------
* :func:`generate_batch` — one batch folder (manifest.json + persons + segments),
  FULL, or INCR on top of a previous batch folder (``incr_from``).
* :func:`write_applications` — an applications file (push-format.md "Applications").
* :func:`cli_sample` / :func:`add_sample_arguments` + :func:`run_sample` — the
  ``retire-prep sample`` command.
* :func:`check_person_row` / :func:`check_segment_row` — the generator's own reading
  of the contract (used to pick valid rows for an INCR and by the tests; the
  pipeline's SQL in ``sql/ingest/`` is the authority).
* ``python -m pipelines.sample.shipped data/sample`` (``make sample``) — the shipped sample.

Modules
-------
``rates`` the one table of rates below; ``codes`` the regions and word lists drawn from;
``context`` what the chunks of a batch share (employers, ID codes handed out); ``persons``,
``careers``, ``contacts`` the draws, called in stream order by ``draw``; ``benefit_place``
rules.md §2 vectorised; ``breakage`` the bad rows; ``writing``/``reading`` batch folders;
``batch`` (FULL), ``incr``, ``applications``, ``cli``, ``shipped``.

Every flag of rules.md §4 occurs in a 2,000-person batch; so do scope (a), (b), (c),
the four benefit-place rules of §2 and places outside Ningxia (tests/sample/test_sample.py).

``bad_rows=R``: each persons row and each segments row is broken with probability R
(independently, from its own random stream, so the valid rows are those of the
``bad_rows=0`` batch). Persons breakages: wrong ID check character, 17-character ID,
unknown office, unknown province code, 5-digit code, birth date ``YYYY0230``, op ``X``,
gender ``0``, negative months, bad USCC check character, and one id_no on two rows
(both rows count as broken). Segments breakages: ``end_month`` before ``start_month``,
month 13, 5-digit or unknown region, relation_status ``4``, wrong ID check character,
and a segment of a person not in the file. The manifest stays honest (rows = data
rows). The pipeline quarantines more rows than R: the segments of a broken persons
row go with it.

INCR (``incr_from``): seq = previous seq + 1 (or ``seq``), base_seq = previous seq;
changed persons are a seeded sample of the previous batch's valid, unduplicated rows
(op D rows skipped).

Rates (generated from ``rates.RATES``; shares are of the persons drawn, before ``bad_rows``)
-------------------------------------------------------------------------------------------

"""

from __future__ import annotations

from ..contract import APPLICATION_COLUMNS, PERSON_COLUMNS, SEGMENT_COLUMNS
from . import rates
from .applications import write_applications
from .batch import generate_batch
from .benefit_place import benefit_province_vec
from .checks import check_person_row, check_segment_row
from .cli import add_sample_arguments, cli_sample, main_sample, run_sample
from .codes import OFFICE_CODES, OFFICES
from .draw import CHUNK
from .reading import iter_batch_rows

__doc__ += rates.markdown()

__all__ = [
    "APPLICATION_COLUMNS",
    "CHUNK",
    "OFFICES",
    "OFFICE_CODES",
    "PERSON_COLUMNS",
    "SEGMENT_COLUMNS",
    "add_sample_arguments",
    "benefit_province_vec",
    "check_person_row",
    "check_segment_row",
    "cli_sample",
    "generate_batch",
    "iter_batch_rows",
    "main_sample",
    "run_sample",
    "write_applications",
]
