"""The static HTML: escaped, script-free, themed through CSS variables, cards side by side."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from chainmagic.core import AIMessage
from chainmagic.display import batch_html, graph_html, result_html, value_html
from chainmagic.run import BranchResult, ChainResult, execute_batch
from chainmagic.run.result import StepRecord

from .conftest import joke_poem, mask, run_map


class Bars(HTMLParser):
    """Collects the timeline bars' left/width percentages and the document's tags."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[tuple[float, float]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        style = dict(attrs).get("style") or ""
        found = re.search(r"left:([\d.]+)%;width:([\d.]+)%", style)
        if found:
            self.bars.append((float(found[1]), float(found[2])))


def parse(page: str) -> Bars:
    parser = Bars()
    parser.feed(page)
    return parser


def test_text_is_escaped_everywhere() -> None:
    evil = "<script>alert('x')</script>"
    result = ChainResult(name=evil, status="error", error=ValueError(evil), output=None, total=0.1)
    result.branches = {evil: BranchResult(evil, status="ok", output={evil: [evil]}, start=0, end=1)}
    result.steps = [StepRecord((evil,), 0.0, 0.1, status="ok")]
    page = result_html(result)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "<script" not in value_html(AIMessage(evil))
    assert "<script" not in value_html({evil: evil})


def test_no_scripts_no_stylesheets_only_inline_styles(map_result: ChainResult) -> None:
    page = result_html(map_result)
    tags = set(parse(page).tags)
    assert not tags & {"script", "style", "link", "iframe"}
    assert "var(--jp-layout-color1," in page  # themed, with a fallback after the comma
    assert "var(--jp-ui-font-color1,#" in page


def test_cards_sit_side_by_side_one_per_branch(map_result: ChainResult) -> None:
    page = result_html(map_result)
    assert "display:flex;flex-wrap:wrap" in page
    assert page.count("border-top:3px solid") == 2
    assert ">joke</b>" in page
    assert ">poem</b>" in page
    assert "tell me a joke about bear" in page


def test_the_timeline_shows_parallel_branches_overlapping(map_result: ChainResult) -> None:
    bars = parse(result_html(map_result)).bars
    assert len(bars) == len(map_result.steps)
    joke, poem = bars[0], bars[4]  # each branch's own row leads its steps
    assert joke[0] < poem[0] + poem[1]
    assert poem[0] < joke[0] + joke[1]


def test_the_html_is_deterministic_apart_from_times() -> None:
    assert mask(result_html(run_map())) == mask(result_html(run_map()))


def test_the_header_has_status_latency_and_tokens(map_result: ChainResult) -> None:
    page = mask(result_html(map_result))
    assert "map_chain</b>" in page
    assert "ok</span>" in page
    assert "total <b>T</b>" in page
    assert "28 tokens" in page


def test_a_failed_branch_card_is_red_and_the_other_keeps_its_result(
    failed_result: ChainResult,
) -> None:
    page = result_html(failed_result)
    assert "ValueError: no rhyme for bear" in page
    assert "a joke about bear" in page
    assert "failed at map_chain › poem" in page


def test_dicts_are_foldable_trees_without_script() -> None:
    page = value_html({"a": {"b": [1, 2, {"c": "d"}]}})
    assert page.count("<details open>") == 2  # a and b fold; the dict inside the list is a row
    assert "{1 key}" in page
    assert "[3]" in page


def test_batch_html_has_a_progress_bar_and_a_row_per_input() -> None:
    batch = execute_batch(joke_poem(fail_on="dog"), [{"topic": "bear"}, {"topic": "dog"}])
    page = batch_html(batch)
    assert "width:100.0%" in page
    assert page.count("<tr ") == 3  # header + two inputs
    assert "FakeModelError" in page


def test_graph_html_is_the_drawing_and_the_inputs() -> None:
    page = graph_html(joke_poem().get_graph(), ["topic"], name="map_chain")
    assert "cm-graph" in page
    assert "inputs: <code>topic</code>" in page


def test_html_renderers_never_raise_on_a_broken_result() -> None:
    class Broken(ChainResult):
        @property
        def usage(self) -> dict[str, int]:  # type: ignore[override]
            raise RuntimeError("no usage")

    result = Broken(status="ok", output="x", total=1.0)
    result.steps = "not a list"  # type: ignore[assignment]
    assert isinstance(result_html(result), str)
