"""The suite's switches (tests/conftest.py KEPT_IN): a module not in KEPT_IN runs without Great
Expectations and the workbooks, and a test marked ``gx`` / ``workbooks`` gets the real ones back."""

from __future__ import annotations

import pytest

import pipelines.outputs
import pipelines.validate
from conftest import _REAL, EVERYTHING, KEPT_IN


def test_this_module_is_in_no_list():
    assert all("test_conftest_switches" not in modules for modules in KEPT_IN.values())


@pytest.mark.skipif(EVERYTHING, reason="RETIRE_PREP_TEST_ALL=1: nothing is left out")
def test_left_out_here():
    assert pipelines.validate.validate_frames is not _REAL[(pipelines.validate, "validate_frames")]
    assert pipelines.outputs.write_workbooks is not _REAL[(pipelines.outputs, "write_workbooks")]
    assert pipelines.declare.write_declaration_books is not _REAL[(pipelines.declare, "write_declaration_books")]


@pytest.mark.gx
def test_the_gx_mark_gives_validation_back():
    assert pipelines.validate.validate_frames is _REAL[(pipelines.validate, "validate_frames")]
    assert pipelines.validate.warm_up is _REAL[(pipelines.validate, "warm_up")]


@pytest.mark.workbooks
def test_the_workbooks_mark_gives_the_workbooks_back():
    assert pipelines.outputs.write_workbooks is _REAL[(pipelines.outputs, "write_workbooks")]
    assert pipelines.declare.write_declaration_books is _REAL[(pipelines.declare, "write_declaration_books")]


@pytest.mark.skipif(EVERYTHING, reason="RETIRE_PREP_TEST_ALL=1: nothing is left out")
def test_and_after_a_marked_test_they_are_left_out_again():
    assert pipelines.validate.validate_frames is not _REAL[(pipelines.validate, "validate_frames")]
