"""The live widget: built from a running ChainResult, updated in place, throttled, thread-safe.

ipywidgets works without a kernel (its comms are no-ops), so the views are driven by real runs
of the offline model here; a real kernel is exercised in test_kernel.py.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import defaultdict
from typing import Any

import pytest

from chainmagic.core import ChatPromptTemplate, FakeChatModel, RunnableParallel, StrOutputParser
from chainmagic.display import BatchView, ResultView, result_html, result_text
from chainmagic.display._parts import card_html, header_html, timeline_html
from chainmagic.run import ChainResult, execute, execute_batch

from .conftest import joke_poem

WORDS = " ".join(f"w{i}" for i in range(30))


def streaming_map(token_delay: float = 0.02) -> RunnableParallel:
    def branch(template: str) -> Any:
        model = FakeChatModel([WORDS], latency=0.05, token_delay=token_delay)
        return ChatPromptTemplate.from_template(template) | model | StrOutputParser()

    return RunnableParallel(joke=branch("joke about {topic}"), poem=branch("poem about {topic}"))


class Watch:
    """Builds the view at the run's first event and records every value each card is given."""

    def __init__(self) -> None:
        self.view: ResultView | None = None
        self.values: dict[str, list[str]] = defaultdict(list)
        self.events = 0
        self.lock = threading.Lock()

    def __call__(self, result: ChainResult, kind: str, key: str | None) -> None:
        with self.lock:
            self.events += 1
            if self.view is None:
                self.view = ResultView(result)
                for k, card in self.view.cards.items():
                    card.observe(lambda change, k=k: self.values[k].append(change["new"]), "value")
        self.view.on_change(result, kind, key)


@pytest.fixture(scope="module")
def watched() -> tuple[Watch, ChainResult, float]:
    watch = Watch()
    result = execute(streaming_map(), {"topic": "bear"}, name="map_chain", on_change=watch)
    return watch, result, result.total or 0.0


def test_cards_stream_text_in_place(watched: tuple[Watch, ChainResult, float]) -> None:
    watch, _, _ = watched
    joke = watch.values["joke"]
    assert len(joke) >= 3
    partial = [v for v in joke if "▍" in v]  # the streaming cursor: text arrived before the end
    assert partial
    assert any(0 < v.count(" w") < 29 for v in partial)


def test_the_final_state_is_the_finished_result(watched: tuple[Watch, ChainResult, float]) -> None:
    watch, result, _ = watched
    view = watch.view
    assert view is not None
    keys = list(result.branches)
    for i, key in enumerate(keys):
        assert view.cards[key].value == card_html(key, result.branches[key], i)
        assert "w29" in view.cards[key].value
        assert "▍" not in view.cards[key].value
    assert view.header.value == header_html(result)
    assert view.timeline.value == timeline_html(result)
    assert view.output.layout.display == "none"  # the cards are the output of a whole map


def test_redraws_are_throttled(watched: tuple[Watch, ChainResult, float]) -> None:
    watch, _, total = watched
    view = watch.view
    assert view is not None
    bound = int(total * 15) + 3  # ~15 redraws a second, plus the first and the final one
    assert watch.events > 2 * view.redraws  # the stream really was faster than the redraws
    assert view.redraws <= bound
    for key in ("joke", "poem"):
        assert len(watch.values[key]) <= bound
    assert view.assignments <= bound * 4


def test_the_bundle_carries_our_text_beside_the_widget(
    watched: tuple[Watch, ChainResult, float],
) -> None:
    watch, result, _ = watched
    view = watch.view
    assert view is not None
    data = view._repr_mimebundle_()
    assert data["text/plain"] == result_text(result)
    assert data["text/html"] == result_html(result)
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == view.model_id


def test_no_redraw_after_done_and_no_assignment_without_change(
    watched: tuple[Watch, ChainResult, float],
) -> None:
    watch, _, _ = watched
    view = watch.view
    assert view is not None
    before = view.assignments
    view.update("branch", "joke")
    view.update("done")
    assert view.assignments == before


def test_a_sequence_streams_into_the_output_area() -> None:
    chain = (
        ChatPromptTemplate.from_template("{q}")
        | FakeChatModel([WORDS], latency=0.01, token_delay=0.005)
        | StrOutputParser()
    )
    seen: list[str] = []
    holder: list[ResultView] = []

    def on_change(result: ChainResult, kind: str, key: str | None) -> None:
        if not holder:
            holder.append(ResultView(result, rate=1000))
            holder[0].output.observe(lambda c: seen.append(c["new"]), "value")
        holder[0].on_change(result, kind, key)

    result = execute(chain, {"q": "hi"}, name="seq", on_change=on_change)
    view = holder[0]
    assert view.card_row.layout.display == "none"
    assert any("▍" in v for v in seen)
    assert "w29" in view.output.value
    assert result.status == "ok"


def test_a_failing_branch_card_shows_the_failure() -> None:
    holder: list[ResultView] = []

    def on_change(result: ChainResult, kind: str, key: str | None) -> None:
        if not holder:
            holder.append(ResultView(result))
        holder[0].on_change(result, kind, key)

    execute(joke_poem(fail_on="poem"), {"topic": "bear"}, name="m", on_change=on_change)
    card = holder[0].cards["poem"].value
    assert "FakeModelError" in card
    assert "error" in card


def test_updates_from_many_threads_are_safe() -> None:
    result = execute(joke_poem(), {"topic": "bear"}, name="m")
    view = ResultView(result, rate=200)
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(300):
                view.update("branch", "joke")
                view.update("step", "poem")
                view.update("root")
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    view.update("done")
    assert not errors
    assert view._throttle.error is None
    assert "tell me a joke about bear" in view.cards["joke"].value


def test_the_batch_view_fills_a_table_and_a_progress_bar() -> None:
    holder: list[BatchView] = []
    lock = threading.Lock()

    def on_change(batch: Any, index: int) -> None:
        with lock:
            if not holder:
                holder.append(BatchView(batch))
        holder[0].on_change(batch, index)

    inputs = [{"topic": t} for t in ("bear", "dog", "cat", "owl")]
    batch = execute_batch(joke_poem(fail_on="dog"), inputs, name="m", on_change=on_change)
    view = holder[0]
    assert view.progress.value == view.progress.max == 4
    assert view.progress.bar_style == "danger"
    assert view.table.value.count("<tr>") == 5
    assert "3 ok · 1 failed" in view.summary.value
    assert view._repr_mimebundle_()["text/plain"].startswith("m · 4 inputs")
    assert batch.done == 4


def test_importing_the_renderers_does_not_import_ipywidgets() -> None:
    code = (
        "import sys, chainmagic.display, chainmagic.display.text, chainmagic.display.html;"
        "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported';"
        "chainmagic.display.ResultView;"
        "assert 'ipywidgets' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
