"""``%chaintime`` / ``%%chaintime`` in a real InteractiveShell and in a real kernel (nbclient)."""

from __future__ import annotations

import re
import time
from textwrap import dedent
from typing import Any

import pytest
from IPython.core.error import UsageError

from chainmagic.display._timing_text import timing_text
from chainmagic.run.timing_result import TIMING_MIME, TimingResult

SETUP = dedent(
    """\
    from chainmagic.core import FakeChatModel, RunnableLambda
    flaky = FakeChatModel(fail_rate=0.5, seed=3)
    branch = FakeChatModel(latency=0.3)
    calls = []
    def noting(label):
        return RunnableLambda(lambda x: calls.append(label) or x)
    a, b, c = noting("a"), noting("b"), noting("c")
    """
)
CHAINS = dedent(
    """\
    %%chain
    joke_chain = "tell me a joke about {topic}" | model
    poem_chain = "write a 2-line poem about {topic}" | model
    map_chain  = {joke: joke_chain, poem: poem_chain}
    flaky_chain = "x {topic}" | flaky
    slow_map = {joke: "j {topic}" | branch, poem: "p {topic}" | branch}
    """
)


@pytest.fixture
def ip(ipython: Any) -> Any:
    ipython.ok(SETUP)
    ipython.ok(CHAINS)
    return ipython


def squeeze(text: str, mask: Any) -> str:
    """Times masked and runs of spaces made one: the table's shape without its measured widths."""
    return re.sub(r" +", " ", mask(text))


def test_the_language_reference_example(ip: Any) -> None:
    ran = ip.ok("%chaintime -i topic=bear joke_chain poem_chain map_chain -n 3 -o")
    result = ran.value
    assert isinstance(result, TimingResult)
    assert list(result.chains) == ["joke_chain", "poem_chain", "map_chain"]
    assert result.input == {"topic": "bear"}
    assert all(t.runs == 3 and t.failures == 0 for t in result.chains.values())
    table = ran.outputs[0]["text/plain"]
    assert table.splitlines()[0].split()[:3] == ["chain", "runs", "median"]
    for label in result.chains:
        assert f"{label}: " in table
        assert f"\n{label} " in table


def test_golden_table_of_one_chain(ip: Any, mask: Any) -> None:
    ran = ip.ok("%chaintime -i topic=bear joke_chain -n 3")
    assert [set(d) for d in ran.outputs] == [{"text/plain", "text/html", TIMING_MIME}]
    text = re.sub(r"\b\d+(\.\d+)?k?/s\b", "RATE", ran.outputs[0]["text/plain"])
    assert squeeze(text, mask) == (
        "chain runs median mean ± std ttft itl tokens vs fastest\n"
        "joke_chain 3 T T ± T T T RATE 1.00×\n"
        "\n"
        "joke_chain: T ± T per run (mean ± std. dev. of 3 runs)\n"
        "\n"
        "joke_chain is the fastest (median T)"
    )
    html = ran.outputs[0]["text/html"]
    assert "joke_chain" in html
    assert html.lstrip().startswith("<")


def test_chain_names_may_come_before_or_after_the_options(ip: Any) -> None:
    before = ip.ok("%chaintime joke_chain map_chain -n 1 -w 0 -q -o -i topic=bear").value
    after = ip.ok("%chaintime -n 1 -w 0 -q -o -i topic=bear joke_chain map_chain").value
    assert list(before.chains) == list(after.chains) == ["joke_chain", "map_chain"]
    assert after.input == {"topic": "bear"}


def test_o_returns_v_stores_q_shows_nothing(ip: Any) -> None:
    ran = ip.ok("%chaintime -i topic=bear joke_chain -n 2 -w 0 -q -v kept")
    assert ran.outputs == []
    assert ran.stdout == ""
    assert ran.value is None
    assert isinstance(ip.ns["kept"], TimingResult)
    assert ip.ns["kept"]["joke_chain"].runs == 2

    ran = ip.ok("%chaintime -i topic=bear joke_chain -n 2 -w 0 -o")
    assert isinstance(ran.value, TimingResult)
    assert len(ran.outputs) == 1

    ip.ok("got = %chaintime -i topic=bear joke_chain -n 1 -w 0 -o -q")
    assert isinstance(ip.ns["got"], TimingResult)


def test_runs_interleave_in_a_shuffled_seeded_order(ip: Any) -> None:
    ip.ok("calls.clear()")
    result = ip.ok("%chaintime -i x=1 a b c -n 6 -w 0 --seed 5 -q -o").value
    assert len(result.orders) == 6
    assert all(sorted(order) == ["a", "b", "c"] for order in result.orders)
    assert len({tuple(order) for order in result.orders}) > 1  # not one fixed order
    assert ip.ns["calls"] == [label for order in result.orders for label in order]
    again = ip.ok("%chaintime -i x=1 a b c -n 6 -w 0 --seed 5 -q -o").value
    assert again.orders == result.orders
    other = ip.ok("%chaintime -i x=1 a b c -n 6 -w 0 --seed 6 -q -o").value
    assert other.orders != result.orders


def test_warmup_runs_are_made_and_dropped(ip: Any) -> None:
    ip.ok("calls.clear()")
    result = ip.ok("%chaintime -i x=1 a b -n 2 -w 3 -q -o").value
    assert len(ip.ns["calls"]) == (3 + 2) * 2
    assert result["a"].runs == result["b"].runs == 2


def test_failed_runs_are_counted_apart(ip: Any) -> None:
    ran = ip.ok("%chaintime -i topic=bear joke_chain flaky_chain -n 10 -w 0 -o")
    flaky = ran.value["flaky_chain"]
    assert flaky.failures > 0
    assert flaky.runs > 0
    assert flaky.runs + flaky.failures == 10
    assert len(flaky.all_runs) == flaky.runs  # failures never enter the statistics
    assert ran.value["joke_chain"].failures == 0
    table = ran.outputs[0]["text/plain"]
    assert "failed" in table.splitlines()[0]
    assert f"of {flaky.runs} runs, {flaky.failures} failed)" in table


def test_max_time_stops_early(ip: Any) -> None:
    start = time.perf_counter()
    ran = ip.ok("%chaintime -i topic=bear slow_map joke_chain -n 50 -w 0 --max-time 0.5 -o")
    assert time.perf_counter() - start < 2
    result = ran.value
    assert result.stopped_early
    assert 1 <= len(result.orders) < 50
    assert result["slow_map"].runs == result["joke_chain"].runs == len(result.orders)
    assert "(--max-time)" in ran.outputs[0]["text/plain"]


def test_a_map_of_two_branches_costs_its_slowest_and_reports_the_speedup(ip: Any) -> None:
    ran = ip.ok("%chaintime -i topic=bear slow_map -n 3 -w 0 -o")
    (row,) = ran.value.rows
    assert 0.29 <= row.median < 0.40
    assert set(row.branches) == {"joke", "poem"}
    assert all(0.29 <= seconds < 0.40 for seconds in row.branches.values())
    assert 1.7 <= row.speedup <= 2.1
    table = ran.outputs[0]["text/plain"]
    found = re.search(
        r"slow_map: (\d\.\d\d)× faster than its branches run one after another", table
    )
    assert found is not None, table
    assert 1.7 <= float(found.group(1)) <= 2.1


def test_cell_form_takes_names_and_labelled_pipelines(ip: Any) -> None:
    ran = ip.ok(
        '%%chaintime -i topic=bear -n 2 -w 0 -o\njoke_chain\nshort: "one word about {topic}" | model\n'
    )
    assert list(ran.value.chains) == ["joke_chain", "short"]
    assert ran.value["short"].runs == 2


def test_baseline_is_the_reference(ip: Any) -> None:
    result = ip.ok(
        "%chaintime -i topic=bear joke_chain slow_map -n 2 -w 0 --baseline slow_map -q -o"
    ).value
    assert result.reference == "slow_map"
    rows = {row.label: row for row in result.rows}
    assert rows["slow_map"].ratio == 1.0
    assert rows["joke_chain"].ratio < 0.1


def test_widgets_on_ends_with_the_static_text_and_html(ip: Any) -> None:
    ip.ok('%config ChainMagics.widgets = "on"')
    ran = ip.ok("%chaintime -i topic=bear joke_chain -n 2 -w 0")
    assert [set(d) for d in ran.outputs] == [{"text/plain", "text/html", TIMING_MIME}]
    assert ran.outputs[0]["text/plain"].startswith("chain ")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%chaintime -i topic=bear joke_chian", "no chain named 'joke_chian' in the notebook"),
        ("%chaintime joke_chain", "%chaintime needs an input: -i topic=bear"),
        ("%chaintime -i topic=bear", "%chaintime needs chains: %chaintime -i ... chain_a chain_b"),
        (
            "%chaintime -i topic=bear joke_chain --baseline map_chain",
            "--baseline map_chain: not one of joke_chain",
        ),
        (
            "%chaintime -i topic=bear joke_chain -n 0",
            "-n 0: give a number of runs (1 to 100000) or auto",
        ),
        (
            "%chaintime -i topic=bear joke_chain -n x",
            "-n x: give a number of runs (1 to 100000) or auto",
        ),
        (
            "%chaintime -i topic=bear joke_chain -w -1",
            "-w -1: give a number of warm-up runs, 0 or more",
        ),
        (
            "%chaintime -i topic=bear joke_chain --max-time 0",
            "--max-time 0: give seconds, a number above 0",
        ),
        (
            "%chaintime -i topic=bear joke_chain --max-time nan",
            "--max-time nan: give seconds, a number above 0",
        ),
        (
            "%chaintime -i topic=bear joke_chain -n auto --rel-ci 0",
            "--rel-ci 0: give a percentage above 0 and below 100, e.g. 5",
        ),
        (
            "%chaintime -i topic=bear joke_chain -n 5 --rel-ci 2",
            "--rel-ci 2: goes with -n auto",
        ),
        (
            "%chaintime -i topic=bear joke_chain --columns median,bogus",
            "--columns: unknown bogus; choose from runs, failed, median, mean, min, max, p50, p90, "
            "p95, p99, ttft, itl, tpot, tokens_per_s, error_rate, goodput, ratio",
        ),
        (
            "%chaintime -i topic=bear joke_chain --columns medain,p90",
            "--columns: unknown medain (did you mean median?); choose from runs, failed, median, mean, "
            "min, max, p50, p90, p95, p99, ttft, itl, tpot, tokens_per_s, error_rate, goodput, "
            "ratio",
        ),
        (
            "%chaintime -i topic=bear joke_chain --concurrency 1,0",
            "--concurrency 0: each level is a whole number from 1 to 1024",
        ),
        (
            "%chaintime -i topic=bear joke_chain --concurrency 1,,4",
            "--concurrency '1,,4': give a comma-separated list, e.g. 1,4,16",
        ),
        (
            "%chaintime -i topic=bear joke_chain --slo speed=1",
            "--slo speed=1: give metric=seconds with a metric from ttft, total, itl, tpot",
        ),
        (
            "%chaintime -i topic=bear joke_chain --slo ttft=-1",
            "--slo ttft=-1: give seconds, a number above 0",
        ),
        (
            "%chaintime -i topic=bear joke_chain --models fake:echo",
            "--models rebinds `model` in chains written in the cell (label: pipeline); "
            "joke_chain comes from the notebook",
        ),
        (
            "%chaintime -i topic=bear joke_chain --models a,a",
            "--models a,a: a model is named twice",
        ),
        ("%chaintime -i topic=bear joke_chain --bogus", "unrecognized arguments: --bogus"),
        (
            "%chaintime -i nothere joke_chain",
            "-i nothere: no variable 'nothere' in the notebook; "
            "to pass it as text, quote it: -i '\"nothere\"'",
        ),
        (
            "%%chaintime -i topic=bear\nx = joke_chain",
            "%%chaintime lines are chain names or 'label: pipeline'",
        ),
    ],
)
def test_usage_errors(ip: Any, line: str, message: str) -> None:
    ran = ip(line)
    assert type(ran.error) is UsageError
    assert str(ran.error) == message
    assert ran.stderr == f"UsageError: {message}\n"
    assert ran.outputs == []


def test_columns_choose_the_columns_of_the_text_and_the_html(ip: Any, mask: Any) -> None:
    ran = ip.ok("%chaintime -i topic=bear joke_chain -n 2 -w 0 --columns ttft,median,error_rate")
    text, page = ran.outputs[0]["text/plain"], ran.outputs[0]["text/html"]
    assert squeeze(text, mask).splitlines()[:2] == ["chain ttft median errors", "joke_chain T T 0%"]
    table = page[: page.index("</table>")]
    assert re.findall(r"<th[^>]*>([^<]*)</th>", table) == ["chain", "ttft", "median", "errors"]


def test_a_wrong_column_set_on_a_result_fails_the_cell_in_one_line(ip: Any) -> None:
    ip.ok("timing = %chaintime -i topic=bear joke_chain -n 1 -w 0 -q -o")
    ran = ip("timing.columns = ['median', 'p95', 'speed']")
    assert type(ran.error) is ValueError
    assert str(ran.error).startswith("columns: unknown speed; choose from runs, failed, median")
    assert ip("timing.columns").value is None  # unchanged


def test_an_unknown_statistic_is_a_usage_error(ip: Any) -> None:
    ran = ip("%chaintime -i topic=bear joke_chain --stat mode")
    assert type(ran.error) is UsageError
    assert str(ran.error).startswith("argument --stat: invalid choice: 'mode' (choose from ")


# -- in a real kernel -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel_timing(kernel: Any) -> dict[str, Any]:
    """Cells run once in the shared kernel: a live table, a quiet -o, a quiet -v."""
    assert kernel.run(SETUP)[0] == []
    outputs, _ = kernel.run(CHAINS)
    # a cell that defines several chains names them, then draws the last one's graph
    assert [o["output_type"] for o in outputs] == ["stream", "display_data"], outputs
    assert outputs[0]["text"].startswith("defined joke_chain, poem_chain, map_chain")
    cells = {
        "live": "%chaintime -i topic=bear joke_chain map_chain -n 3 -w 1",
        "o": "%chaintime -i topic=bear joke_chain -n 2 -w 0 -q -o",
        "v": "%chaintime -i topic=bear joke_chain -n 2 -w 0 -q -v stored\nstored['joke_chain'].runs",
    }
    return {key: kernel.run(source)[0] for key, source in cells.items()}


def test_kernel_shows_one_output_with_the_final_text_and_html_only(
    kernel: Any, kernel_timing: dict[str, Any]
) -> None:
    outputs = kernel_timing["live"]
    assert [o["output_type"] for o in outputs] == ["display_data"]
    data = outputs[0]["data"]
    assert set(data) == {"text/plain", "text/html", TIMING_MIME}
    text = data["text/plain"]
    assert "measuring" not in text
    assert text.splitlines()[0].split()[:2] == ["chain", "runs"]
    assert "\njoke_chain " in text
    assert "\nmap_chain " in text
    assert "map_chain" in data["text/html"]


def test_kernel_o_and_v(kernel_timing: dict[str, Any]) -> None:
    (result,) = kernel_timing["o"]
    assert result["output_type"] == "execute_result"
    assert result["data"]["text/plain"].startswith("chain ")
    (count,) = kernel_timing["v"]
    assert count["data"]["text/plain"] == "2"


def test_n_auto_stops_once_every_median_is_known_within_rel_ci(ip: Any) -> None:
    ip.ok("steady, q = FakeChatModel(latency=0.01), 'hi'")
    result = ip.ok("%chaintime -i q steady -n auto --rel-ci 20 -w 0 -q -o").value
    assert result.stopped_by == "rel-ci"
    assert result.rel_ci == 0.2
    assert result.runs_requested == 0
    assert len(result.orders) >= 6  # the fewest runs with a 95 % interval for the median
    assert "every median known within 20%" in result.stopping


def test_n_auto_gives_up_at_max_time_and_says_so(ip: Any) -> None:
    ip.ok("shaky, q = FakeChatModel(latency=0.02, jitter=0.9, seed=1), 'hi'")
    start = time.perf_counter()
    result = ip.ok("%chaintime -i q shaky -n auto --rel-ci 0.01 --max-time 0.5 -w 0 -q -o").value
    assert time.perf_counter() - start < 3
    assert result.stopped_by == "max-time" and result.stopped_early
    assert "--max-time ended the measurement" in result.stopping


def test_max_time_bounds_the_warmup_too(ip: Any) -> None:
    ip.ok("calls.clear()")
    start = time.perf_counter()
    ip.ok("tick = RunnableLambda(lambda x: __import__('time').sleep(0.01) or x)")
    result = ip.ok("%chaintime -i x=1 tick -w 1000000000 --max-time 0.5 -q -o").value
    assert time.perf_counter() - start < 5
    assert len(result.orders) == 1  # one measured round always follows
    assert 10 < len(result["tick"].warmup_runs) < 1000


def test_a_chaintime_where_every_run_failed_fails_the_cell_and_keeps_the_result(ip: Any) -> None:
    from chainmagic.errors import ChainTimingError

    ip.ok("broken, q = FakeChatModel(fail_rate=1.0), 'hi'")
    ran = ip("%chaintime -i q broken -n 3 -w 0 -v kept")
    assert isinstance(ran.error, ChainTimingError)
    assert str(ran.error).startswith("every run failed: ")
    assert ran.error.result is ip.ns["kept"]
    assert ip.ns["kept"]["broken"].failures == 3
    assert [r.error_kind for r in ip.ns["kept"]["broken"].records] == ["FakeModelError"] * 3
    assert (ran.stdout + ran.stderr).count("\n") == 1  # one short line, no traceback


def test_concurrency_keeps_that_many_runs_in_flight(ip: Any) -> None:
    ip.ok("paced, q = FakeChatModel(latency=0.05), 'hi'")
    result = ip.ok("%chaintime -i q paced -n 2 -w 0 --concurrency 1,4 --slo total=10 -q -o").value
    levels = [(lv.label, lv.concurrency) for lv in result.load]
    assert levels == [("paced", 1), ("paced", 4)]
    one, four = result.load
    assert (one.requests, four.requests) == (2, 8)
    assert (one.peak_in_flight, four.peak_in_flight) == (1, 4)
    assert 3 < four.mean_in_flight <= 4
    assert four.requests_per_s > 2 * one.requests_per_s  # the fake model serves in parallel
    assert four.goodput == 1.0
    assert result.rows[0].goodput == 1.0


def test_models_time_each_cell_chain_once_per_model(ip: Any) -> None:
    ran = ip.ok(
        "%%chaintime -i topic=bear -n 2 -w 0 -q -o --models fake:echo,fake:other\n"
        'short: "one word about {topic}" | model'
    )
    result = ran.value
    assert list(result.chains) == ["short @ fake:echo", "short @ fake:other"]
    assert [r.model for r in result.rows] == ["fake:echo", "fake:other"]
    assert result["short @ fake:echo"].outputs == {"one word about bear": 2}
    assert [r.distinct_outputs for r in result.rows] == [1, 1]
    assert "short @ fake:other: 1 distinct output over 2 runs; most often: one word about bear" in (
        timing_text(result)
    )


def test_n_auto_stops_when_no_run_succeeds(ip: Any) -> None:
    from chainmagic.errors import ChainTimingError

    ip.ok("broken, q = FakeChatModel(fail_rate=1.0), 'hi'")
    ran = ip("%chaintime -i q broken -n auto -w 0 -v kept")
    assert isinstance(ran.error, ChainTimingError)
    assert ip.ns["kept"].stopped_by == "failures"
    assert ip.ns["kept"].stopping == "-n auto: no run succeeded in 6 rounds"
