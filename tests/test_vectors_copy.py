"""The rule vectors kept in tests/vectors are the spec's, unchanged (checked when the spec is beside the checkout)."""

import pytest

from pushkit import SPEC, VECTORS


def test_every_vector_file_is_in_the_repository():
    names = {p.name for p in VECTORS.glob("*.csv")}
    assert {
        "retirement_age.csv",
        "min_contribution.csv",
        "benefit_place.csv",
        "working_days.csv",
        "id_numbers.csv",
        "phones.csv",
        "uscc.csv",
        "sms_segments.csv",
    } <= names


@pytest.mark.skipif(
    not (SPEC / "vectors").is_dir(), reason="no spec beside this checkout: nothing to compare the copy with"
)
def test_the_copy_equals_the_spec():
    for spec_file in sorted((SPEC / "vectors").iterdir()):
        assert (VECTORS / spec_file.name).read_bytes() == spec_file.read_bytes(), spec_file.name
