"""``%%chain`` in a real kernel (ipykernel, driven by nbclient): what a saved notebook holds.

One kernel serves the session (see ``conftest.kernel``). The outputs checked are the ones nbval,
nbconvert and GitHub see: once a run is over, its ``text/plain`` and ``text/html`` and no widget
view, so the notebook reads the same reopened with no kernel.
"""

from __future__ import annotations

import time
from textwrap import dedent
from typing import Any

import pytest

WIDGET = "application/vnd.jupyter.widget-view+json"

SETUP = dedent(
    """\
    import time
    fast = FakeChatModel(token_delay=0.005)
    stuck = FakeChatModel(latency=30)
    def late_failure(prompt):
        time.sleep(0.1)  # fails after the other branch has finished
        raise ValueError("no rhyme")
    """
)
MAP_CELL = dedent(
    """\
    %%chain map_chain -i topic=bear
    joke: "tell me a joke about {topic}" | fast | str
    poem: "write a 2-line poem about {topic}" | fast | str
    """
)
BROKEN_CELL = dedent(
    """\
    %%chain broken -i topic=bear
    joke: "tell me a joke about {topic}" | fast | str
    poem: "write a 2-line poem about {topic}" | late_failure | str
    """
)


@pytest.fixture(scope="module")
def cells(kernel: Any) -> dict[str, tuple[list[Any], dict[str, Any]]]:
    """The module's cells, run once each: outputs and the kernel's execute reply."""
    assert kernel.run(SETUP)[0] == []
    sources = {
        "map": MAP_CELL,
        "broken": BROKEN_CELL,
        "usage": "%chain map_chain --bogus",
        "syntax": '%%chain bad\n"a" | | fast',
        "set off": '%config ChainMagics.widgets = "off"',
        "off": MAP_CELL,
        "set auto": '%config ChainMagics.widgets = "auto"',
        "returned": '%chain "hi {x}" | fast | str -i x=1 -q -o',
        "graph": '%%chain needs\n{x: @a, y: @b} | "{x}{y}" | fast',
    }
    ran = {}
    for key, source in sources.items():
        outputs, _ = kernel.run(source)
        ran[key] = (outputs, kernel.reply)
    return ran


def test_a_run_ends_as_one_output_with_html_and_plain(
    kernel: Any, cells: dict[str, Any], mask: Any
) -> None:
    outputs, reply = cells["map"]
    assert reply["status"] == "ok"
    assert [o["output_type"] for o in outputs] == ["display_data"]
    data = outputs[0]["data"]
    assert set(data) == {"text/plain", "text/html"}
    assert mask(data["text/plain"]) == (
        "map_chain\n"
        "joke: tell me a joke about bear\n"
        "poem: write a 2-line poem about bear\n"
        "total T (joke T, poem T) · 28 tokens"
    )
    assert "tell me a joke about bear" in data["text/html"]
    assert "running" not in data["text/html"]


def test_widgets_off_leaves_html_and_plain(cells: dict[str, Any]) -> None:
    outputs, _ = cells["off"]
    assert [o["output_type"] for o in outputs] == ["display_data"]
    assert set(outputs[0]["data"]) == {"text/plain", "text/html"}
    assert outputs[0]["data"]["text/plain"].startswith("map_chain\njoke: tell me a joke about bear")


def test_a_failing_step_fails_the_cell_in_one_line_and_keeps_the_other_branch(
    cells: dict[str, Any], mask: Any
) -> None:
    outputs, reply = cells["broken"]
    assert reply["status"] == "error"
    assert reply["ename"] == "ChainRunError"
    assert [o["output_type"] for o in outputs] == ["display_data", "error"]
    error = outputs[1]
    line = "ChainRunError: broken › poem › late_failure failed: ValueError: no rhyme"
    assert error["traceback"] == [line]
    data = outputs[0]["data"]
    assert WIDGET not in data
    assert mask(data["text/plain"]) == (
        "broken\n"
        "joke: tell me a joke about bear\n"
        "poem: failed — ValueError: no rhyme\n"
        "failed at broken › poem › late_failure · total T (joke T, poem T) · 12 tokens"
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("usage", "unrecognized arguments: --bogus"),
        ("syntax", "expected a step after '|'\n  line 2: \"a\" | | fast\n                ^"),
    ],
)
def test_usage_errors_fail_the_cell_with_one_short_message(
    cells: dict[str, Any], key: str, message: str
) -> None:
    outputs, reply = cells[key]
    assert reply["status"] == "error"
    assert reply["ename"] == "UsageError"
    assert outputs == [
        {"output_type": "stream", "name": "stderr", "text": f"UsageError: {message}\n"}
    ]


def test_o_returns_the_result_as_the_cell_value(cells: dict[str, Any], mask: Any) -> None:
    outputs, _ = cells["returned"]
    assert [o["output_type"] for o in outputs] == ["execute_result"]
    assert mask(outputs[0]["data"]["text/plain"]) == "hi 1\ntotal T · ttft T · 4 tokens"


def test_without_an_input_the_graph_and_its_inputs_show(cells: dict[str, Any]) -> None:
    outputs, reply = cells["graph"]
    assert reply["status"] == "ok"
    assert [o["output_type"] for o in outputs] == ["display_data"]
    assert {"text/plain", "text/html"} <= set(outputs[0]["data"])
    assert outputs[0]["data"]["text/plain"].endswith("\ninputs: a, b")


def test_an_interrupt_stops_a_long_run_at_once_and_the_next_cell_runs(
    kernel: Any, cells: dict[str, Any]
) -> None:
    # the kernel is interrupted (KernelManager.interrupt_kernel) once the cell has run 1 s
    outputs, elapsed = kernel.run('%%chain -i x=1\n"{x}" | stuck', timeout=1)
    assert kernel.reply["status"] == "error"
    assert kernel.reply["ename"] == "KeyboardInterrupt"
    assert [o["output_type"] for o in outputs] == ["display_data", "error"]
    assert outputs[-1]["ename"] == "KeyboardInterrupt"
    assert "running" not in outputs[0]["data"]["text/plain"]
    assert "cancelled" in outputs[0]["data"]["text/plain"]
    assert elapsed < 1 + 1.5, f"the run went on {elapsed - 1:.2f} s after the interrupt"

    start = time.perf_counter()
    outputs, _ = kernel.run('%chain "{x}" | fast | str -i x=after -q -o')
    assert kernel.reply["status"] == "ok"
    assert outputs[0]["data"]["text/plain"].startswith("after\n")
    assert time.perf_counter() - start < 1


def test_an_interrupted_sync_map_starts_no_new_step_and_frees_its_threads(
    kernel: Any, cells: dict[str, Any]
) -> None:
    setup = dedent(
        """\
        import threading, time, sys, traceback
        from chainmagic.core import RunnableLambda, RunnableParallel
        started = []
        def step(x):
            started.append(time.perf_counter())
            time.sleep(0.4)
            return x
        def inner(x):  # a sync chain of six 0.4 s steps, that a step runs on its own
            chain = RunnableLambda(step)
            for _ in range(5):
                chain = chain | RunnableLambda(step)
            return chain.invoke(x)
        wide = RunnableParallel({f"b{i}": RunnableLambda(inner) for i in range(128)})
        def busy_workers():
            frames = sys._current_frames()
            return sum(
                1 for t in threading.enumerate()
                if t.name == "chainmagic-worker" and t.ident in frames
                and "help" in [f.name for f in traceback.extract_stack(frames[t.ident])]
            )
        """
    )
    assert kernel.run(setup)[0] == []
    kernel.run("t0 = time.perf_counter()\n%chain wide -i 1 -v stopped -q", timeout=1)
    assert kernel.reply["ename"] == "KeyboardInterrupt"
    outputs, _ = kernel.run(
        "interrupted_at = t0 + stopped.total\n"
        "time.sleep(1.0)\n"  # every thread's current call (0.4 s) has ended by now
        "print(sum(t > interrupted_at + 0.05 for t in started), len(started), busy_workers(),"
        " stopped.status)"
    )
    after, total, busy, status = outputs[0]["text"].split()
    # without cancelling, the 128 chains would go on to start their fourth, fifth and sixth steps
    assert (int(after), int(busy), status) == (0, 0, "cancelled"), total
    assert int(total) >= 128
