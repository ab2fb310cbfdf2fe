"""The table's columns: checked names, the default set, and one cell of each kind."""

from __future__ import annotations

import math

import pytest

from chainmagic.run.timing import ChainTiming
from chainmagic.run.timing_columns import (
    COLUMNS,
    DEFAULT_COLUMNS,
    cell,
    check_columns,
    shown_columns,
)
from chainmagic.run.timing_result import TimingResult, TimingRow
from chainmagic.run.units import format_seconds


def result(runs: int = 7, **kw: object) -> TimingResult:
    fast = ChainTiming("fast", all_runs=[0.1 + i / 1000 for i in range(runs)], ttfts=[0.05] * runs)
    slow = ChainTiming("slow", all_runs=[0.3 + i / 1000 for i in range(runs)], ttfts=[0.05] * runs)
    return TimingResult({"fast": fast, "slow": slow}, **kw)  # type: ignore[arg-type]


def test_names_are_checked_with_the_valid_ones_listed():
    assert check_columns(None) is None
    assert check_columns(["p99", "median", "p99"]) == ["p99", "median"]  # repeats dropped
    assert check_columns("median") == ["median"]  # one name, not its letters
    with pytest.raises(ValueError) as info:
        check_columns(["median", "bogus"])
    assert str(info.value) == f"columns: unknown bogus; choose from {', '.join(COLUMNS)}"
    with pytest.raises(ValueError, match=r"unknown medain \(did you mean median\?\); choose"):
        check_columns(["medain"], "--columns")
    with pytest.raises(ValueError, match="unknown 3; choose from runs, failed"):
        check_columns([3])
    with pytest.raises(ValueError, match="give at least one of runs"):
        check_columns([])
    with pytest.raises(ValueError, match="columns: give a list of names from runs, failed"):
        check_columns(5)  # type: ignore[arg-type]


def test_the_result_checks_its_columns_whenever_they_are_set():
    with pytest.raises(ValueError, match="columns: unknown bogus; choose from runs"):
        result(columns=["bogus"])
    timing = result()
    with pytest.raises(ValueError, match="did you mean ttft"):
        timing.columns = ["ttf"]
    assert timing.columns is None  # a failed assignment changes nothing
    timing.columns = ["ttft", "median", "ttft"]
    assert timing.columns == ["ttft", "median"]
    data = timing.to_json_dict()
    data["columns"] = ["nope"]
    with pytest.raises(ValueError, match="unknown nope"):
        TimingResult.from_json(data)


def test_chosen_columns_are_shown_as_given_even_when_empty():
    rows = result().rows
    assert shown_columns(["tpot", "median", "p99"], rows) == ["tpot", "median", "p99"]
    assert shown_columns(["median", "made-up"], rows) == ["median"]  # a render never raises


def test_the_default_leaves_out_what_could_only_say_nothing():
    assert shown_columns(None, result().rows) == ["runs", "median", "mean", "ttft", "ratio"]
    assert shown_columns(None, result(10).rows)[3] == "p90"
    assert shown_columns(None, result(20).rows)[3] == "p95"
    assert set(shown_columns(None, result(100).rows)) & {"p90", "p95", "p99"} == {"p99"}
    assert set(shown_columns(None, [])) <= set(DEFAULT_COLUMNS)
    failing = result()
    failing.chains["slow"].failures = 2
    assert shown_columns(None, failing.rows)[:2] == ["runs", "failed"]


def test_cells_are_times_counts_shares_and_factors():
    row = next(r for r in result(columns=None).rows if r.label == "slow")
    row.goodput, row.error_rate, row.tokens_per_s, row.ratio = 0.75, 0.125, 81.25, 3.0151
    fmt = format_seconds
    assert cell(row, "median", fmt) == "303 ms"
    assert cell(row, "mean", fmt) == "303 ms ± 2.16 ms"
    assert cell(row, "runs", fmt) == "7" and cell(row, "failed", fmt) == "0"
    assert cell(row, "goodput", fmt) == "75%" and cell(row, "error_rate", fmt) == "12%"
    assert cell(row, "tokens_per_s", fmt) == "81.2"
    assert cell(row, "ratio", fmt) == "3.02×"
    assert cell(row, "p99", fmt) == cell(row, "itl", fmt) == "—"
    empty = TimingRow("x", 0, 3, math.nan, math.nan, math.nan, math.nan, math.nan, *[None] * 7)
    assert [cell(empty, c, fmt) for c in ("median", "mean", "min", "ratio")] == ["—"] * 4
