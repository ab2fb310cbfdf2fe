"""Results are drawn by IPython's formatters, registered by ``%load_ext`` in one place.

Returned results (``-o``, ``Out[n]``, ``display(x)``) show as their static text and HTML, in a
kernel too: no widget view. The result modules themselves import nothing of the display package.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

from chainmagic.core import FakeChatModel, RunnableParallel
from chainmagic.display import (
    batch_html,
    batch_text,
    graph_html,
    result_html,
    result_text,
    timing_html,
    timing_text,
)
from chainmagic.display.bundle import WIDGET_MIME
from chainmagic.run import ChainResult, execute, execute_batch
from chainmagic.run.timing import ChainTiming
from chainmagic.run.timing_result import TimingResult


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    existed = InteractiveShell.initialized()
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "chainmagic")
    try:
        yield shell
    finally:
        shell.run_line_magic("unload_ext", "chainmagic")
        if not existed:
            InteractiveShell.clear_instance()


def finished() -> ChainResult:
    return execute(RunnableParallel(joke=FakeChatModel(), poem=FakeChatModel()), "bear", name="m")


def test_every_result_type_shows_as_its_static_text_and_html(shell: InteractiveShell) -> None:
    result = finished()
    batch = execute_batch(FakeChatModel(), ["a", "b"])
    timing = TimingResult({"a": ChainTiming("a", all_runs=[0.1, 0.2, 0.3])})
    graph = RunnableParallel(a=FakeChatModel()).get_graph()
    expected = {
        "result": (result, result_text(result), result_html(result)),
        "batch": (batch, batch_text(batch), batch_html(batch)),
        "timing": (timing, timing_text(timing), timing_html(timing)),
        "graph": (graph, None, graph_html(graph)),
    }
    for what, (obj, text, page) in expected.items():
        data, _ = shell.display_formatter.format(obj)
        assert WIDGET_MIME not in data, what
        assert data["text/html"] == page, what
        if text is not None:
            assert data["text/plain"] == text, what


def test_unloading_forgets_the_formatters(shell: InteractiveShell) -> None:
    result = finished()
    shell.run_line_magic("unload_ext", "chainmagic")
    data, _ = shell.display_formatter.format(result)
    assert data["text/plain"] == repr(result)
    assert "text/html" not in data
    shell.run_line_magic("load_ext", "chainmagic")


def test_a_broken_result_still_gets_a_text(shell: InteractiveShell) -> None:
    result = finished()
    result.branches = None  # type: ignore[assignment]  # as broken as a result gets
    data, _ = shell.display_formatter.format(result)
    assert data["text/plain"]


def test_the_results_import_nothing_of_the_display_package() -> None:
    code = (
        "import sys, chainmagic.run, chainmagic.run.timing_result\n"
        "print(sorted(m for m in sys.modules if m.startswith('chainmagic.display')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_reprs_are_cheap_one_line_summaries() -> None:
    result = finished()
    assert repr(result).startswith("<ChainResult m: ok, ") and "2 branches>" in repr(result)
    batch = execute_batch(FakeChatModel(), ["a"])
    assert repr(batch).startswith("<BatchResult: 1/1 inputs, ")
