"""Returned results (``-o``, ``Out[n]``) show as text and HTML, in a kernel too: no widget view."""

from __future__ import annotations

from typing import Any

from chainmagic.core import FakeChatModel, RunnableParallel
from chainmagic.display.bundle import WIDGET_MIME
from chainmagic.display.reprs import repr_bundle
from chainmagic.display.text import result_text
from chainmagic.run import ChainResult, execute, execute_batch
from chainmagic.run.timing import ChainTiming
from chainmagic.run.timing_result import TimingResult


def finished() -> ChainResult:
    return execute(RunnableParallel(joke=FakeChatModel(), poem=FakeChatModel()), "bear", name="m")


def test_outside_a_kernel_a_result_is_text_and_html() -> None:
    result = finished()
    data = result._repr_mimebundle_()
    assert set(data) == {"text/plain", "text/html"}
    assert data["text/plain"] == result_text(result)


def test_in_a_kernel_no_returned_object_carries_a_widget(kernel: Any) -> None:
    timing = TimingResult({"a": ChainTiming("a", all_runs=[0.1, 0.2, 0.3])})
    batch = execute_batch(FakeChatModel(), ["a", "b"])
    graph = RunnableParallel(a=FakeChatModel()).get_graph()
    for obj in (finished(), batch, timing, graph):
        data = repr_bundle(obj)
        assert WIDGET_MIME not in data, type(obj).__name__
        assert data["text/plain"] and data["text/html"]


def test_a_broken_object_still_gets_a_bundle(kernel: Any) -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    data = repr_bundle(Broken())
    assert "text/plain" in data
