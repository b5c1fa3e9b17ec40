"""The rule vectors kept in tests/vectors are the spec's, unchanged.

The copy is checked against the SHA-256 sums recorded when it was made (tests/vectors/SHA256SUMS),
in every checkout; where the spec is beside the checkout (``../shared/spec``), the spec's files are
checked against the same sums, so a changed spec is seen. Nothing is skipped in a clean clone
(issue 15 item 5): the sums stand in for the spec that is not there.
"""

import hashlib

import pytest

from support.pushkit import SPEC, VECTORS

RULE_FILES = {
    "retirement_age.csv",
    "min_contribution.csv",
    "benefit_place.csv",
    "working_days.csv",
    "id_numbers.csv",
    "phones.csv",
    "uscc.csv",
    "sms_segments.csv",
}


def recorded() -> dict[str, str]:
    """name → SHA-256 as recorded in tests/vectors/SHA256SUMS (``sha256sum``'s format)."""
    sums = {}
    for line in (VECTORS / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.lstrip("*")] = digest
    return sums


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_vector_file_is_in_the_repository_and_recorded():
    names = {p.name for p in VECTORS.glob("*.csv")}
    assert RULE_FILES <= names
    assert names | {"README.md"} == set(recorded())


@pytest.mark.parametrize("name", sorted(RULE_FILES | {"README.md"}))
def test_the_copy_is_the_one_recorded(name):
    assert sha256(VECTORS / name) == recorded()[name], f"tests/vectors/{name} changed since it was copied"


def test_the_spec_beside_the_checkout_if_any_is_the_copy():
    spec = SPEC / "vectors"
    if not spec.is_dir():  # a clean clone alone: the recorded sums above are the check
        return
    sums = recorded()
    assert {p.name for p in spec.iterdir()} == set(sums), "the spec's vectors/ has other files than the copy"
    for spec_file in sorted(spec.iterdir()):
        assert sha256(spec_file) == sums[spec_file.name], f"the spec's {spec_file.name} changed: copy it again"
