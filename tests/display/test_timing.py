"""``%chaintime``'s display: golden text (numbers masked), HTML, the live view and its bundles."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from chainmagic.core import RunnableLambda
from chainmagic.display import LiveTiming, bundle, timing_html, timing_text
from chainmagic.display._timing_text import format_time, progress_text
from chainmagic.display.timing import show_timing
from chainmagic.run.timing import ChainTiming, time_chains
from chainmagic.run.timing_result import TIMING_MIME, TimingResult

WIDGET = "application/vnd.jupyter.widget-view+json"
bundle_module = importlib.import_module("chainmagic.display.bundle")

# The patterns a notebook's sanitize file uses (see chainmagic.display._timing_text).
_TIME = re.compile(r"[ ]*\d+(?:\.\d+)? (?:s|ms|µs|ns)\b")
_RATIO = re.compile(r"[ ]*\d+\.\d+×")
_INTERVAL = re.compile(r"\[\d+\.\d+, \d+\.\d+\]")


def mask(text: str) -> str:
    return _INTERVAL.sub("[R, R]", _RATIO.sub(" R×", _TIME.sub(" T", text)))


def golden(text: str) -> str:
    return dedent(text).strip("\n")


JOKE = [0.61, 0.58, 0.66, 0.60, 0.71, 0.55, 0.62]
POEM = [1.20, 1.25, 1.18, 1.31, 1.22, 1.19, 1.27]
MAP = [1.30, 1.28, 1.33, 1.29, 1.35, 1.31, 1.30]


def chains(*timings: ChainTiming) -> dict[str, ChainTiming]:
    return {t.label: t for t in timings}


def joke(runs: list[float] = JOKE, **kw: Any) -> ChainTiming:
    return ChainTiming("joke_chain", all_runs=list(runs), ttfts=[0.12] * len(runs), **kw)


def poem(**kw: Any) -> ChainTiming:
    return ChainTiming("poem_chain", all_runs=list(POEM), ttfts=[0.30] * 7, **kw)


def map_chain() -> ChainTiming:
    branches = {"joke": [0.60] * 7, "poem": [1.20, 1.22, 1.19, 1.25, 1.21, 1.20, 1.23]}
    return ChainTiming("map_chain", all_runs=list(MAP), ttfts=list(MAP), branches=branches)


def three() -> TimingResult:
    return TimingResult(chains(joke(), poem(), map_chain()), orders=[[]] * 7, runs_requested=7)


# -- text ------------------------------------------------------------------------------------------


def test_text_is_a_table_then_timeit_lines_then_the_speedup_then_the_summary() -> None:
    assert mask(timing_text(three())) == golden(
        """
        chain       runs   median         mean ± std     ttft  vs fastest
        joke_chain     7 T T ± T T R×
        poem_chain     7 T T ± T T R× [R, R] *
        map_chain      7 T T ± T T R× [R, R] *

        joke_chain: T ± T per run (mean ± std. dev. of 7 runs)
        poem_chain: T ± T per run (mean ± std. dev. of 7 runs)
        map_chain: T ± T per run (mean ± std. dev. of 7 runs)
        map_chain: R× faster than its branches run one after another (joke T + poem T = T; in parallel T)

        joke_chain is the fastest (median T)
         R× [R, R] slower: poem_chain
         R× [R, R] slower: map_chain
        """
    )


def test_text_numbers_are_the_measured_ones() -> None:
    text = timing_text(three())
    assert text.splitlines()[1] == ("joke_chain     7   610 ms   619 ms ± 52.7 ms   120 ms  1.00×")
    assert "joke_chain: 619 ms ± 52.7 ms per run (mean ± std. dev. of 7 runs)" in text
    assert "map_chain: 1.39× faster than its branches run one after another (" in text
    assert "(joke 600 ms + poem 1.21 s = 1.81 s; in parallel 1.30 s)" in text


def test_column_widths_do_not_depend_on_the_times() -> None:
    fast = TimingResult(chains(joke([x / 1000 for x in JOKE]), poem()), baseline="poem_chain")
    slow = TimingResult(chains(joke([x * 10 for x in JOKE]), poem()), baseline="poem_chain")
    assert timing_text(fast).splitlines()[0] == timing_text(slow).splitlines()[0]
    assert mask(timing_text(fast)).splitlines()[1] == mask(timing_text(slow)).splitlines()[1]


def test_the_default_shows_the_deepest_percentile_the_runs_support() -> None:
    assert "p9" not in timing_text(three()).splitlines()[0]
    for runs, tail in ((10, "p90"), (20, "p95"), (100, "p99")):
        many = joke([0.5 + i / 1000 for i in range(runs)])
        header = timing_text(TimingResult(chains(many, poem()))).splitlines()[0].split()
        assert header[header.index("std") + 1 : header.index("std") + 3] == [tail, "ttft"]
        assert [h for h in header if h.startswith("p9")] == [tail]
    text = timing_text(TimingResult(chains(joke([0.5 + i / 100 for i in range(20)]), poem())))
    assert mask(text).splitlines()[2].startswith("poem_chain     7 T T ± T        — T")


def test_failures_get_a_column_and_a_note_only_when_there_are_some() -> None:
    assert "failed" not in timing_text(three())
    result = TimingResult(chains(joke(), poem(failures=2, last_error=ValueError("no rhyme"))))
    lines = timing_text(result).splitlines()
    assert lines[0].split()[:3] == ["chain", "runs", "failed"]
    assert lines[2].split()[:3] == ["poem_chain", "7", "2"]
    assert "(mean ± std. dev. of 7 runs, 2 failed)" in lines[5]


def test_stopped_early_is_said() -> None:
    result = TimingResult(chains(joke(), poem()), orders=[[]] * 3, stopped_early=True)
    assert timing_text(result).splitlines()[-1] == "stopped early after 3 rounds (--max-time)"
    assert "stopped early" not in timing_text(three())


def test_baseline_heads_the_ratio_column_and_precision_is_honoured() -> None:
    result = TimingResult(chains(joke(), poem()), baseline="poem_chain", precision=2)
    lines = timing_text(result).splitlines()
    assert lines[0].endswith("vs baseline")
    assert lines[2].endswith("1.00×")
    assert "joke_chain: 620 ms ± 53 ms per run" in lines[4]
    assert "poem_chain is the baseline" in timing_text(result)


def test_format_time_is_format_seconds_at_three_digits() -> None:
    assert format_time(0.61234) == "612 ms"
    assert format_time(0.061234, 4) == "61.23 ms"
    assert format_time(0.9996, 2) == "1.0 s"
    assert format_time(1.5e-5, 1) == "20 µs"
    assert format_time(None, 5) == "—"


def test_a_chain_without_a_successful_run_never_breaks_the_renderers() -> None:
    dead = ChainTiming("dead", failures=3, last_error=RuntimeError("boom"))
    for result in (
        TimingResult(chains(joke(), dead)),
        TimingResult(chains(dead)),
        TimingResult(chains(dead, joke()), baseline="dead"),
        TimingResult({}),
    ):
        text, page = timing_text(result), timing_html(result)
        assert "not displayable" not in text + page
    text = timing_text(TimingResult(chains(joke(), dead)))
    assert "dead: no successful run (3 failed: RuntimeError: boom)" in text
    assert text.splitlines()[2].split() == ["dead", "0", "3", "—", "—", "—", "—"]
    assert "no chain finished a run" in timing_text(TimingResult(chains(dead)))


def test_a_broken_result_is_reported_not_raised() -> None:
    class Broken:
        @property
        def rows(self) -> list[Any]:
            raise RuntimeError("no rows")

    assert timing_text(Broken()) == "<TimingResult: not displayable (RuntimeError: no rows)>"
    assert "not displayable" in timing_html(Broken())


# -- HTML ------------------------------------------------------------------------------------------


def test_html_escapes_labels() -> None:
    evil = ChainTiming(
        "<b>evil</b>&", all_runs=list(POEM), branches={"<i>": [0.5] * 7, "b": [0.6] * 7}
    )
    page = timing_html(TimingResult(chains(joke(), evil)))
    assert "<b>evil</b>" not in page and "<i>" not in page
    assert "&lt;b&gt;evil&lt;/b&gt;&amp;" in page


def test_html_marks_the_fastest_row_green() -> None:
    page = timing_html(three())
    (best,) = re.findall(r'<tr class="chainmagic-best"[^>]*>.*?</tr>', page)
    assert "joke_chain" in best and "fastest" in best
    assert "poem_chain" not in best


def test_html_has_bars_a_breakdown_per_map_and_the_summary() -> None:
    page = timing_html(three())
    assert page.count("no successful run") == 0
    assert "map_chain: 1.39× faster than its branches run one after another" in page
    assert "one after another</td>" in page and "map_chain (parallel)" in page
    assert "joke_chain is the fastest (median 610 ms)" in page
    assert page.count("<table") == 3  # the table, the bar chart, one map breakdown


def test_html_says_stopped_early() -> None:
    result = TimingResult(chains(joke(), poem()), orders=[[]] * 2, stopped_early=True)
    assert "stopped early after 2 rounds (--max-time)" in timing_html(result)


def html_table(page: str) -> tuple[list[str], list[list[str]]]:
    """The headings and the cells' text of the HTML table (tags dropped)."""
    table = page[: page.index("</table>")]
    heads = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table)]
    rows = [
        [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
        for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1])
    ]
    return heads, rows


def test_the_chosen_columns_are_the_columns_of_every_table() -> None:
    result = three()
    result.columns = ["p50", "tpot", "error_rate", "ratio", "median"]
    lines = timing_text(result).splitlines()
    assert lines[0].split() == ["chain", "p50", "tpot", "errors", "vs", "fastest", "median"]
    # the ratio, read from the left, is padded when it is not last: the median still lines up
    assert lines[1] == "joke_chain   610 ms        —      0%  1.00×                  610 ms"
    assert lines[2].endswith("*   1.22 s") and lines[2].index("1.22 s") == lines[1].index("610 ms")
    heads, rows = html_table(timing_html(result))
    assert heads == ["chain", "p50", "tpot", "errors", "vs fastest", "median"]
    assert rows[0][1:4] == ["610 ms", "—", "0%"] and rows[0][-1] == "610 ms"
    assert rows[1][4].startswith("2.00× [")  # the ratio with its interval, as in the text
    assert result.to_markdown().splitlines()[0] == (
        "| chain | p50 | tpot | errors | ratio | median |"
    )


def test_the_default_columns_are_the_same_in_every_table() -> None:
    result = TimingResult(chains(joke([0.5 + i / 100 for i in range(20)]), poem()))
    text_heads = timing_text(result).splitlines()[0]
    assert text_heads.split() == [
        "chain", "runs", "median", "mean", "±", "std", "p95", "ttft", "vs", "fastest",
    ]  # fmt: skip
    heads, _ = html_table(timing_html(result))
    assert heads == ["chain", "runs", "median", "mean ± std", "p95", "ttft", "vs fastest"]
    markdown = "| chain | runs | median | mean ± std | p95 | ttft | ratio |"
    assert result.to_markdown().splitlines()[0] == markdown


def test_a_column_no_row_can_fill_shows_a_dash_when_asked_for() -> None:
    result = TimingResult(chains(joke(), poem()), columns=["itl", "tokens_per_s", "goodput"])
    assert timing_text(result).splitlines()[1].split() == ["joke_chain", "—", "—", "—"]
    _, rows = html_table(timing_html(result))
    assert rows[1] == ["poem_chain", "—", "—", "—"]


def test_repr_is_a_cheap_summary() -> None:
    result = three()
    assert repr(result).startswith("<TimingResult: ")


# -- the widget ------------------------------------------------------------------------------------


def test_live_view_shows_progress_then_the_final_table(kernel: Any) -> None:
    live = LiveTiming("on", total=6)
    widget = live.widget
    assert "measuring…" in widget.value
    timings = chains(joke([0.6]), poem(failures=1))
    live._throttle.interval = 0
    live.on_progress(timings, 4, 6)
    live._throttle.flush()  # the draw is due on the throttle's thread; take it now
    assert "measuring 4/6 runs… · 1 failed" in widget.value
    assert 'title="4/6"' in widget.value
    assert live.live_text() == "measuring 4/6 runs… · 1 failed"
    result = three()
    live.finish(result)
    (final,) = kernel.handles[0].updates
    assert final["text/plain"] == timing_text(result)
    assert final["text/html"] == timing_html(result)
    assert set(final) == {"text/plain", "text/html", TIMING_MIME}
    assert live.widget is None and widget.comm is None
    live.on_progress(timings, 5, 6)  # late progress after the end draws nothing


def test_live_progress_is_throttled(kernel: Any) -> None:
    live = LiveTiming("on", total=1000)
    for done in range(1, 1001):
        live.on_progress({}, done, 1000)
    assert live.redraws < 10
    live.finish(three())
    assert live.redraws < 12


def test_an_interrupted_measurement_says_cancelled(kernel: Any) -> None:
    live = LiveTiming("on", total=6)
    live.on_progress({}, 2, 6)
    live.cancel()
    (final,) = kernel.handles[0].updates
    assert final["text/plain"] == "cancelled"
    assert "measuring" not in final["text/html"]


def test_progress_text() -> None:
    assert progress_text(0, 0) == "measuring…"
    assert progress_text(12, 21) == "measuring 12/21 runs…"


# -- live display and bundles ----------------------------------------------------------------------


def fast_chains() -> dict[str, Any]:
    return {
        "upper": RunnableLambda(lambda x: x.upper()),
        "twice": RunnableLambda(lambda x: x * 2),
    }


@pytest.mark.parametrize(("mode", "keys"), [("on", 3), ("off", 2), ("auto", 3)])
def test_live_timing_in_a_kernel_ends_with_the_static_table(
    kernel: Any, mode: str, keys: int
) -> None:
    live = LiveTiming(mode, total=6)
    (first,) = kernel.displayed
    assert first["text/plain"] == "measuring…"
    assert len(first) == keys
    timings, orders, early = time_chains(
        fast_chains(), "ab", runs=3, warmup=0, on_progress=live.on_progress
    )
    result = TimingResult(timings, orders=orders, stopped_early=early)
    live.finish(result)
    (final,) = kernel.handles[0].updates
    assert set(final) == {"text/plain", "text/html", TIMING_MIME}  # the raw runs too
    assert TimingResult.from_json(final[TIMING_MIME]).to_json() == result.to_json()
    assert final["text/plain"] == timing_text(result)
    assert final["text/html"] == timing_html(result)
    assert len(kernel.displayed) == 1
    assert live.widget is None


def test_live_timing_without_a_kernel_shows_nothing_until_the_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = LiveTiming("auto")
    assert live.handle is None and live.widget is None
    live.on_progress({}, 1, 2)
    live.finish(three())
    assert capsys.readouterr().out == ""  # no IPython shell: the magic returns or prints it


def test_a_failing_draw_never_breaks_the_measurement(
    kernel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = LiveTiming("on")

    def explode() -> str:
        raise RuntimeError("view broke")

    monkeypatch.setattr(live, "live_html", explode)
    timings, orders, _ = time_chains(
        fast_chains(), "ab", runs=1, warmup=0, on_progress=live.on_progress
    )
    result = TimingResult(timings, orders=orders)
    live.finish(result)
    assert kernel.handles[0].updates[0]["text/plain"] == timing_text(result)


def test_bundle_routes_a_timing_result(kernel: Any) -> None:
    result = three()
    assert bundle(result) == {
        "text/plain": timing_text(result),
        "text/html": timing_html(result),
        TIMING_MIME: result.to_json_dict(),
    }
    show_timing(result, mode="on")
    show_timing(result, mode="off")
    on, off = kernel.displayed
    assert set(on) == set(off) == {"text/plain", "text/html", TIMING_MIME}
    assert on["text/plain"] == timing_text(result)


KERNEL_CELL = dedent(
    """
    from chainmagic.core import FakeChatModel, RunnableParallel
    from chainmagic.display import LiveTiming
    from chainmagic.run.timing import time_chains
    from chainmagic.run.timing_result import TimingResult

    joke = FakeChatModel(latency=0.01)
    chains = {"joke": joke, "map": RunnableParallel(a=FakeChatModel(latency=0.01), b=joke)}
    live = LiveTiming("auto", total=6)
    timings, orders, early = time_chains(chains, "bear", runs=3, on_progress=live.on_progress)
    live.finish(TimingResult(timings, orders=orders, stopped_early=early))
    """
)


def test_in_a_real_kernel_the_saved_output_is_the_static_table() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(KERNEL_CELL)]
    root = Path(__file__).resolve().parents[2]
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(root)}}
    )
    client.execute()
    (output,) = nb.cells[0].outputs
    data = output["data"]
    assert set(data) == {"text/plain", "text/html", TIMING_MIME}
    assert data["text/plain"].startswith("chain  runs   median")
    saved = TimingResult.from_json(
        data[TIMING_MIME]
    )  # the saved file keeps the runs, not a picture
    assert [t.runs for t in saved.chains.values()] == [3, 3]
    assert saved.to_json() == TimingResult.from_json(saved.to_json()).to_json()
    assert re.search(r"\nmap: R× (faster|slower) than its branches", mask(data["text/plain"]))
    assert "chainmagic-timing" in data["text/html"]


def test_one_outlier_run_does_not_squash_the_bars() -> None:
    fast = ChainTiming("fast", all_runs=[0.0002] * 9 + [0.0167])  # one stall among 0.2 ms runs
    slow = ChainTiming("slow", all_runs=[0.0004] * 10)
    page = timing_html(TimingResult({"fast": fast, "slow": slow}))
    widths = [float(w) for w in re.findall(r"left:0;width:([\d.]+)%;min-width:2px", page)]
    assert widths and max(widths) > 30  # the slowest median takes a real share of the axis
    assert "cut at 3× the largest median" in page


def test_text_and_html_say_what_stopped_n_auto_the_load_levels_and_the_warnings() -> None:
    from chainmagic.run.load import LoadLevel
    from chainmagic.run.timing import RunRecord

    timing = ChainTiming("joke")
    for i, total in enumerate([0.1, 0.3, 0.1, 0.3, 0.1, 0.3]):
        timing.add(RunRecord(round=i, total=total))
    level = LoadLevel("joke", 4, peak_in_flight=4, mean_in_flight=3.9, requests_per_s=38.0)
    level.p50, level.goodput, level.tokens_per_s = 0.105, 0.75, 380.0
    result = TimingResult(
        {"joke": timing}, orders=[["joke"]] * 6, stopped_by="rel-ci", rel_ci=0.05, load=[level]
    )
    text = timing_text(result)
    assert "-n auto: every median known within 5% (95 % interval) after 6 rounds" in text
    assert (
        "joke at concurrency 4: in flight 3.9 (peak 4), 38.0 requests/s, 380 tokens/s, "
        "p50 105 ms, goodput 75%"
    ) in text
    assert "warning: joke: high spread (std is 55% of the mean)" in text
    page = timing_html(result)
    assert "joke at concurrency 4: in flight 3.9 (peak 4)" in page
    assert "warning: joke: high spread" in page


def test_percentiles_asked_for_but_unsupported_are_explained() -> None:
    result = TimingResult(chains(joke(), poem()), columns=["median", "p99"])
    assert "percentiles: p90 needs 10, p95 needs 20, p99 needs 100 runs" in timing_text(result)
    assert "percentiles:" not in timing_text(TimingResult(chains(joke(), poem())))


def test_a_map_without_overlap_says_why_its_speedup_is_one() -> None:
    branches = {"joke": [0.040] * 3, "poem": [0.055] * 3}
    serial = ChainTiming("map_chain", all_runs=[0.099] * 3, ttfts=[0.01] * 3, branches=branches)
    result = TimingResult(chains(serial), orders=[[]] * 3, runs_requested=3)
    note = "the branches did not overlap: the server may process one request at a time"
    text = timing_text(result)
    assert f"in parallel 99.0 ms)\n  {note}" in text
    assert note in timing_html(result)
    assert note not in timing_text(three())  # a map that did overlap says nothing of the kind


def test_token_rates_in_a_column_keep_their_digits() -> None:
    from chainmagic.display._timing_text import format_rate

    rates = (None, 0.5, 9.996, 25.0, 11.24, 99.96, 812.4, 999.6, 81_234, 123_456)
    assert [format_rate(x) for x in rates] == [
        "—", "0.50/s", "10.0/s", "25.0/s", "11.2/s", "100/s", "812/s", "1.0k/s", "81.2k/s", "123k/s",
    ]  # fmt: skip
