"""Seeded outputs stay bit for bit: every bundled scenario, a study, a
splitting estimate and the validation checks, against the content digests
in tests/data/digests.json (``python -m tests.make_digests`` regenerates
them, only for a change meant to alter seeded numbers)."""

import json

import pytest

from tests import make_digests

STORED = json.loads(make_digests.PATH.read_text())
CASES = make_digests.cases()


def test_every_case_is_stored():
    assert sorted(CASES) == sorted(STORED)


@pytest.mark.parametrize("name", sorted(CASES))
def test_digest(name):
    assert CASES[name]() == STORED[name]


def test_digest_sees_one_changed_value():
    import pandas as pd

    df = pd.DataFrame({"a": [1.0, 2.0], "b": pd.array([1, None], "Int64"), "c": ["x", "y"]})
    before = make_digests.frame_digest(df)
    assert make_digests.frame_digest(df.copy()) == before
    df.loc[1, "a"] = 2.0000000000000004
    assert make_digests.frame_digest(df) != before
