"""Bundles and live displays: what IPython is handed at the start of a run, and what stays after it.

The final form of every output is static (text and HTML, no widget view), so a saved notebook shows
it with no kernel and no widget state; the one live widget is closed when the run ends."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from chainmagic.display import (
    LiveDisplay,
    bundle,
    result_html,
    result_text,
    show_graph,
    show_python,
    widgets_enabled,
)
from chainmagic.run import ChainResult, execute, execute_batch

from .conftest import joke_poem

WIDGET = "application/vnd.jupyter.widget-view+json"
# The package exports the function ``bundle``, which hides the module of the same name.
bundle_module = importlib.import_module("chainmagic.display.bundle")


@pytest.fixture
def terminal_shell() -> Iterator[InteractiveShell]:
    """A real IPython shell without a kernel (what a terminal or a magics test has)."""
    existed = InteractiveShell.initialized()
    shell = InteractiveShell.instance()
    yield shell
    if not existed:
        InteractiveShell.clear_instance()


def test_a_finished_bundle_is_text_and_html_only(map_result: ChainResult) -> None:
    assert set(bundle(map_result)) == {"text/plain", "text/html"}


def test_bundle_text_is_the_result_text(map_result: ChainResult) -> None:
    data = bundle(map_result, limit=10)
    assert data["text/plain"] == result_text(map_result, 10)
    assert data["text/html"] == result_html(map_result, 10)


def test_widgets_modes(kernel: Any) -> None:
    assert widgets_enabled("on") is True
    assert widgets_enabled("off") is False
    assert widgets_enabled("auto") is True  # a kernel runs us


def test_auto_is_off_without_a_kernel() -> None:
    assert widgets_enabled("auto") is False
    assert widgets_enabled(True) is True


@pytest.mark.parametrize(("mode", "keys"), [("on", 3), ("off", 2)])
def test_live_display_in_a_kernel_ends_with_a_static_bundle(
    kernel: Any, mode: str, keys: int
) -> None:
    live = LiveDisplay(mode=mode, limit=2000)
    assert len(kernel.displayed) == 1  # the placeholder, shown at once from the cell's thread
    first = kernel.displayed[0]
    assert first["text/plain"] == "running…"
    assert len(first) == keys
    widget = live.widget
    seen: list[str] = []
    if widget is not None:
        widget.observe(lambda change: seen.append(change["new"]), "value")
    # long enough (~150 ms) for live draws: a run shorter than one redraw interval has none
    chain = joke_poem(latency=0.05)
    result = execute(chain, {"topic": "bear"}, name="map_chain", on_change=live.on_change)
    live.finish(result)  # already final after "done": nothing more is sent
    (handle,) = kernel.handles
    (final,) = handle.updates
    assert final == {
        "text/plain": result_text(result, 2000),
        "text/html": result_html(result, 2000),
    }
    assert len(kernel.displayed) == 1
    if widget is not None:
        # the live view was drawn by the final renderer, and its model is gone from the kernel
        assert seen and all(v.startswith('<div class="chainmagic-result"') for v in seen)
        assert widget.comm is None and live.widget is None


def test_the_live_widget_shows_the_streaming_result_with_the_final_renderer(kernel: Any) -> None:
    live = LiveDisplay(mode="on", rate=0)
    widget = live.widget
    values: list[str] = []
    widget.observe(lambda change: values.append(change["new"]), "value")
    chain = joke_poem(latency=0.02, token_delay=0.005)
    execute(chain, {"topic": "bear"}, name="map_chain", on_change=live.on_change)
    assert any("tell me a joke about bear" in v for v in values)
    assert any("running" in v for v in values)  # a live frame before the end


def test_one_widget_per_run_and_none_left_after_it(kernel: Any) -> None:
    before = len(widget_models())
    for _ in range(200):
        live = LiveDisplay(mode="on")
        assert len(widget_models()) - before == 3  # the HTML view, its layout and its style
        live.finish(execute(joke_poem(latency=0), {"topic": "bear"}, on_change=live.on_change))
    assert len(widget_models()) - before == 0


def widget_models() -> dict[str, Any]:
    """Every widget model the kernel holds (ipywidgets' registry of open widgets)."""
    from ipywidgets.widgets.widget import _instances

    return _instances


def test_live_batch_display_finishes_with_the_table(kernel: Any) -> None:
    live = LiveDisplay(mode="on")
    inputs = [{"topic": "bear"}, {"topic": "cat"}]
    batch = execute_batch(joke_poem(), inputs, on_change=live.on_batch_change)
    live.finish(batch)
    (final,) = kernel.handles[0].updates
    assert set(final) == {"text/plain", "text/html"}
    assert final["text/plain"].startswith("2 inputs · 2 ok")
    assert live.widget is None


def test_an_interrupted_batch_says_cancelled(kernel: Any) -> None:
    live = LiveDisplay(mode="on")
    batch = execute_batch(joke_poem(), [{"topic": "bear"}])
    batch.results[0].status = "running"  # as an interrupt leaves it
    live.on_batch_change(batch, 0)
    live.cancel()
    (final,) = kernel.handles[0].updates
    assert set(final) == {"text/plain", "text/html"}
    assert "running" not in final["text/plain"]
    assert "cancelled" in final["text/plain"]


def test_a_run_interrupted_before_its_first_event_says_cancelled(kernel: Any) -> None:
    live = LiveDisplay(mode="on")
    live.cancel()
    (final,) = kernel.handles[0].updates
    assert final["text/plain"] == "cancelled"
    assert live.widget is None


def test_without_a_kernel_only_the_final_result_is_shown(
    terminal_shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    live = LiveDisplay(mode="auto")
    assert live.handle is None
    result = execute(joke_poem(), {"topic": "bear"}, name="map_chain", on_change=live.on_change)
    live.finish(result)
    out = capsys.readouterr().out
    assert "running" not in out
    assert out.count("map_chain\njoke: tell me a joke about bear") == 1


def test_without_ipython_nothing_is_displayed(capsys: pytest.CaptureFixture[str]) -> None:
    live = LiveDisplay(mode="on")
    result = execute(joke_poem(), {"topic": "bear"}, on_change=live.on_change)
    live.finish(result)
    assert capsys.readouterr().out == ""
    assert set(live.bundle()) == {"text/plain", "text/html"}


def test_a_failing_draw_never_breaks_the_run(kernel: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    live = LiveDisplay(mode="on", rate=0)

    def explode() -> str:
        raise RuntimeError("view broke")

    monkeypatch.setattr(live, "live_html", explode)
    result = execute(joke_poem(), {"topic": "bear"}, on_change=live.on_change)
    assert result.status == "ok"
    assert kernel.handles[0].updates[0]["text/plain"] == result_text(result)


def test_show_graph_and_show_python(
    terminal_shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    show_graph(joke_poem().get_graph(), ("topic",), name="map_chain")
    show_python("chain = prompt | model\n")
    out = capsys.readouterr().out
    assert "inputs: topic" in out
    assert "chain = prompt | model" in out
