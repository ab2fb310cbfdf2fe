"""Rendering never breaks a run, and degrades instead of stalling: odd outputs, huge maps."""

from __future__ import annotations

import time
from typing import Any

import pytest

from chainmagic.core import RunnableLambda, RunnableParallel
from chainmagic.display import LiveDisplay, bundle, result_html, result_text
from chainmagic.run import ChainResult, execute
from chainmagic.run.result import BranchResult, StepRecord


class RaisingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr broke")

    def __str__(self) -> str:
        raise RuntimeError("str broke")


def cyclic() -> list[Any]:
    loop: list[Any] = [1, 2]
    loop.append(loop)
    return loop


@pytest.mark.parametrize("output", [RaisingRepr(), cyclic(), {"a": {"b": cyclic()}}])
def test_odd_outputs_leave_the_run_ok_and_still_render(kernel: Any, output: Any) -> None:
    live = LiveDisplay(mode="on", rate=0)
    chain = RunnableParallel(odd=RunnableLambda(lambda _: output), plain=RunnableLambda(str))
    result = execute(chain, "x", name="odd", on_change=live.on_change)
    assert result.status == "ok"
    assert result.output["odd"] == output  # the run's result is unaffected by its rendering
    (final,) = kernel.handles[0].updates
    assert final["text/plain"].startswith("odd\n")
    assert "odd" in final["text/html"]


def wide_map(n: int) -> ChainResult:
    """A finished map of ``n`` branches, as ``execute`` records it (built directly: fast)."""
    result = ChainResult(name="wide", input="x", status="ok", total=1.0, ttft=1.0)
    for i in range(n):
        key = f"b{i}"
        result.branches[key] = BranchResult(key, "ok", output=key * 3, start=0.01, end=0.5)
        result.steps.append(StepRecord(("wide", key), 0.01 + i * 1e-6, 0.5, status="ok"))
    result.output = {k: b.output for k, b in result.branches.items()}
    return result


def test_a_10000_branch_map_is_summarised_quickly() -> None:
    result = wide_map(10_000)
    start = time.process_time()  # CPU time: a busy machine does not make the renderer slower
    text, page = result_text(result), result_html(result)
    spent = time.process_time() - start
    assert spent < 1.0, f"{spent:.2f} s of CPU to render"  # ~0.15 s here; the goal is 0.5 s
    assert len(page) < 200_000 and len(text) < 10_000
    assert page.count('class="chainmagic-card"') == 24
    assert "… (9,976 more branches)" in page
    assert "9,992 more)" in text  # the footer's branch times: the first 8, then a count


def test_an_unfinished_wide_map_lists_the_first_branches_then_a_count() -> None:
    result = wide_map(100)
    result.status = "error"
    text = result_text(result)
    assert text.count("\nb") == 24
    assert "… (76 more branches)" in text


def test_the_final_bundle_renders_each_output_once(kernel: Any) -> None:
    calls = []

    class Counted:
        def __repr__(self) -> str:
            calls.append(1)
            return "counted"

    live = LiveDisplay(mode="off")
    execute(RunnableLambda(lambda _: Counted()), "x", on_change=live.on_change)
    assert len(calls) <= 2  # the text and the HTML of the final bundle, nothing more
    assert bundle(live.obj)["text/plain"].startswith("counted")
