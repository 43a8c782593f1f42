"""Frames handed to the rules as row dicts: one conversion (``iamkit.policy.query.records``), shared by the
engine's model and the assessment context, with the same values as pandas' own ``to_dict``."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from assesstest import Builder, allow, doc

from iamkit import frames
from iamkit.policy.query import records


def _reference(df: pd.DataFrame) -> list[dict]:
    out = df.to_dict(orient="records")
    for r in out:
        for k, v in r.items():
            if v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
                r[k] = None
    return out


def test_rows_match_to_dict_with_missing_values_as_none():
    df = frames.conform(
        [
            {
                "account_id": "1",
                "principal_type": "user",
                "arn": "a",
                "created": datetime(2024, 1, 1, tzinfo=UTC),
                "max_session_duration": 3600,
                "groups": ["g"],
                "tags": {"k": "v"},
                "service_linked": True,
            },
            {"account_id": None, "groups": None},
            {"name": "x", "last_used": "2025-02-03T04:05:06Z", "service_linked": False},
        ],
        "principals",
    )
    df["tags"] = pd.Series([np.int64(7), float("nan"), np.float64("nan")], dtype=object)  # numpy scalars, NaN
    got, want = records(df), _reference(df)
    assert got == want
    assert got[0]["tags"] == 7 and type(got[0]["tags"]) is int
    assert got[1]["tags"] is None and got[2]["tags"] is None and got[1]["created"] is None
    assert isinstance(got[2]["last_used"], pd.Timestamp)
    assert records(None) == [] and records(frames.empty("principals")) == []


def test_context_reads_the_frames_the_model_converted():
    from iamkit.assess.context import Context

    b = Builder()
    b.user("dev", policies=(doc(allow("s3:GetObject")),))
    ctx = Context(b.inventory())
    assert ctx.rows("policies") is ctx.model.frames["policies"]
    assert ctx.rows("principals") == _reference(b.inventory().principals)
    assert ctx.rows("access_keys") == []  # a frame the model does not read
