"""Bundles and live displays: what IPython is handed, at the start and at the end of a run."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from chainmagic.display import (
    LiveDisplay,
    ResultView,
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


def test_bundle_has_three_keys_with_a_widget_and_two_without(map_result: ChainResult) -> None:
    view = ResultView(map_result)
    with_widget = bundle(map_result, view)
    assert set(with_widget) == {"text/plain", "text/html", WIDGET}
    assert with_widget[WIDGET] == {
        "version_major": 2,
        "version_minor": 0,
        "model_id": view.model_id,
    }
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
def test_live_display_in_a_kernel_updates_its_output_with_the_final_bundle(
    kernel: Any, mode: str, keys: int
) -> None:
    live = LiveDisplay(mode=mode, limit=2000)
    assert len(kernel.displayed) == 1  # the placeholder, shown at once from the cell's thread
    first = kernel.displayed[0]
    assert first["text/plain"] == "running…"
    assert len(first) == keys
    result = execute(joke_poem(), {"topic": "bear"}, name="map_chain", on_change=live.on_change)
    live.finish(result)  # already final after "done": nothing more is sent
    (handle,) = kernel.handles
    (final,) = handle.updates
    assert len(final) == keys
    assert final["text/plain"] == result_text(result, 2000)
    assert final["text/html"] == result_html(result, 2000)
    if keys == 3:
        assert final[WIDGET] == first[WIDGET]  # the same widget, now holding the result view
        assert isinstance(live.view, ResultView)
        assert "tell me a joke about bear" in live.view.cards["joke"].value
    assert len(kernel.displayed) == 1


def test_live_batch_display_finishes_with_the_table(kernel: Any) -> None:
    live = LiveDisplay(mode="on")
    inputs = [{"topic": "bear"}, {"topic": "cat"}]
    batch = execute_batch(joke_poem(), inputs, on_change=live.on_batch_change)
    live.finish(batch)
    (final,) = kernel.handles[0].updates
    assert final["text/plain"].startswith("2 inputs · 2 ok")
    assert live.view is not None
    assert live.view.progress.value == 2


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
    assert set(live.bundle()) == {"text/plain", "text/html", WIDGET}


def test_a_failing_view_never_breaks_the_run(kernel: Any) -> None:
    live = LiveDisplay(mode="on")

    class Exploding:
        def on_change(self, *args: Any) -> None:
            raise RuntimeError("view broke")

    live.view = Exploding()
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
