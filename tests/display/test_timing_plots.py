"""The timing plots: drawn from the result's data, only when that data is there."""

from __future__ import annotations

from chainmagic.display._timing_html import timing_html
from chainmagic.display._timing_plots import timing_plots
from chainmagic.run.load import LoadLevel
from chainmagic.run.timing import ChainTiming, RunRecord
from chainmagic.run.timing_result import TimingResult


def timed(label: str, totals: list[float], ttft: float | None = None) -> ChainTiming:
    timing = ChainTiming(label)
    for i, total in enumerate(totals):
        timing.add(RunRecord(round=i, total=total, ttft=ttft))
    return timing


def test_a_strip_has_a_dot_per_run_and_a_tick_per_median() -> None:
    result = TimingResult({"a": timed("a", [0.1, 0.2, 0.3]), "b": timed("b", [0.4, 0.5])})
    svg = timing_plots(result)
    assert svg.count("<svg") == 1  # no ttft (not streamed) and no load: the strip only
    assert svg.count("<circle") == 5
    assert 'aria-label="run times per chain"' in svg
    assert "500 ms · every run, median ticked" in svg


def test_ttft_against_total_only_for_streamed_runs() -> None:
    result = TimingResult({"a": timed("a", [0.2, 0.4], ttft=0.1)})
    svg = timing_plots(result)
    assert 'aria-label="ttft against total"' in svg
    assert svg.count("<circle") == 2 + 2


def test_the_load_curve_has_a_point_per_level() -> None:
    levels = [
        LoadLevel("a", c, requests_per_s=10.0 * c, p50=0.1 + 0.01 * c, peak_in_flight=c)
        for c in (1, 4, 16)
    ]
    result = TimingResult({"a": timed("a", [0.1])}, load=levels)
    svg = timing_plots(result)
    assert 'aria-label="p50 against requests/s"' in svg
    assert "requests/s (to 160)</text>" in svg  # a rate, not seconds
    assert "to 260 ms</text>" in svg
    assert svg.count("<circle") == 1 + 3


def test_nothing_to_plot_draws_nothing_and_labels_are_escaped() -> None:
    assert timing_plots(TimingResult({"a": ChainTiming("a", failures=2)})) == ""
    page = timing_html(TimingResult({"<b>": timed("<b>", [0.1, 0.2])}))
    assert "&lt;b&gt;</text>" in page and "<b></text>" not in page
