"""Golden tests of the plain text: what terminals show and nbval compares (times masked)."""

from __future__ import annotations

import re
from textwrap import dedent

import pytest

from chainmagic.display import (
    batch_html,
    batch_text,
    format_seconds,
    graph_text,
    result_text,
    value_text,
)
from chainmagic.run import BranchResult, ChainResult, execute_batch
from chainmagic.run.result import StepRecord

from .conftest import joke_poem, mask


def golden(text: str) -> str:
    return dedent(text).strip("\n")


def test_map_result_is_one_block_per_branch_then_the_times(map_result: ChainResult) -> None:
    assert mask(result_text(map_result)) == golden(
        """
        map_chain
        joke: tell me a joke about bear
        poem: write a 2-line poem about bear
        total T (joke T, poem T) · 28 tokens
        """
    )


def test_map_footer_names_each_branch_latency(map_result: ChainResult) -> None:
    footer = result_text(map_result).splitlines()[-1]
    total = format_seconds(map_result.total)
    joke = format_seconds(map_result.branches["joke"].latency)
    assert footer.startswith(f"total {total} (joke {joke}, poem ")


def test_sequence_result_is_the_output_then_latency_ttft_tokens(
    sequence_result: ChainResult,
) -> None:
    assert mask(result_text(sequence_result)) == golden(
        """
        joke_chain
        tell me a joke about cat
        total T · ttft T · 12 tokens
        """
    )


def test_failed_branch_shows_failed_and_the_others_keep_their_results(
    failed_result: ChainResult,
) -> None:
    assert mask(result_text(failed_result)) == golden(
        """
        map_chain
        joke: a joke about bear
        poem: failed — ValueError: no rhyme for bear
        failed at map_chain › poem · total T (joke T, poem T)
        """
    )


def test_documents_are_a_numbered_list_with_metadata(docs_result: ChainResult) -> None:
    assert mask(result_text(docs_result)) == golden(
        """
        retriever
        1. Bears eat honey.
           (source: bears.txt)
        2. Cats sleep
           most of the day.
           (source: cats.txt, page: 2)
        total T · ttft T
        """
    )


def test_nested_dict_is_an_indented_tree() -> None:
    value = {
        "user": {
            "name": "Ada",
            "langs": ["python", "ocaml"],
            "address": {"city": "London", "lines": "12 Main St\nFlat 3"},
        },
        "ok": True,
        "score": 0.5,
        "tags": [],
        "extra": None,
        "rows": [{"x": 1}, {"y": 2}],
    }
    assert value_text(value) == golden(
        """
        user:
          name: Ada
          langs: ['python', 'ocaml']
          address:
            city: London
            lines:
              12 Main St
              Flat 3
        ok: True
        score: 0.5
        tags: []
        extra: None
        rows:
          - x: 1
          - y: 2
        """
    )


def test_batch_is_a_table_with_a_summary_and_a_total() -> None:
    inputs = [{"topic": "bear"}, {"topic": "dog"}, {"topic": "cat"}]
    batch = execute_batch(joke_poem(fail_on="dog"), inputs, name="map_chain")
    assert re.sub(r"[\d.,]+ inputs/s", "N inputs/s", mask(batch_text(batch))) == golden(
        """
        map_chain · 3 inputs · 2 ok · 1 failed · total T · N inputs/s
        0  topic: bear  joke: tell me a joke about bear ↵ poem: write a 2-line poem…  T
        1  topic: dog   failed — FakeModelError: injected failure on 'write a 2-lin…  T
        2  topic: cat   joke: tell me a joke about cat ↵ poem: write a 2-line poem …  T
        """
    )


def test_messages_render_as_their_content_never_a_repr() -> None:
    from chainmagic.core import AIMessage, HumanMessage, SystemMessage

    assert value_text(AIMessage("hello there")) == "hello there"
    chat = [SystemMessage("be brief"), HumanMessage("hi\nthere")]
    assert value_text(chat) == golden(
        """
        system: be brief
        human:
          hi
          there
        """
    )


def test_a_running_result_shows_progress_per_branch() -> None:
    result = ChainResult(name="m", status="running")
    result.branches = {
        "joke": BranchResult("joke", status="running", text="tell me", start=0.0),
        "poem": BranchResult("poem", status="pending"),
    }
    assert result_text(result) == golden(
        """
        m
        joke: tell me…
        poem: pending
        running
        """
    )


def test_an_error_outside_the_branches_is_shown_after_them() -> None:
    result = ChainResult(name="m", status="error", error=KeyError("topic"), total=0.5)
    result.branches = {"a": BranchResult("a", status="ok", output=1, start=0.0, end=0.1)}
    assert result_text(result) == golden(
        """
        m
        a: 1
        failed — KeyError: 'topic'
        failed · total 500 ms (a 100 ms)
        """
    )


def test_tokens_come_from_the_steps_usage() -> None:
    result = ChainResult(status="ok", output="x", total=1.0)
    result.steps = [StepRecord(("model",), 0.0, 1.0, status="ok", usage={"total_tokens": 1})]
    assert result_text(result) == "x\ntotal 1.00 s · 1 token"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.612, "612 ms"),
        (1.234, "1.23 s"),
        (45.6e-6, "45.6 µs"),
        (0.9996, "1.00 s"),
        (0.00099996, "1.00 ms"),
        (12.345, "12.3 s"),
        (123.4, "123 s"),
        (5000.0, "5000 s"),
        (2.5e-9, "2.50 ns"),
        (0.0, "0 s"),
        (None, "—"),
        (float("nan"), "—"),
    ],
)
def test_format_seconds_has_three_significant_digits_and_one_unit(
    seconds: float | None, shown: str
) -> None:
    assert format_seconds(seconds) == shown


def test_graph_text_is_the_drawing_and_the_inputs() -> None:
    graph = joke_poem().get_graph()
    text = graph_text(graph, ("topic",), name="map_chain")
    assert text.startswith("map_chain\n")
    assert graph.draw_ascii() in text
    assert text.endswith("\ninputs: topic")
    assert graph_text(graph, ()).endswith("inputs: none (any value)")


def test_graph_text_survives_a_graph_that_cannot_draw() -> None:
    class Broken:
        def draw_ascii(self) -> str:
            raise RuntimeError("nope")

    assert graph_text(Broken(), ["x"]) == "<graph not drawable: RuntimeError: nope>\ninputs: x"


def test_a_live_batch_shows_queued_running_and_an_eta() -> None:
    from time import perf_counter

    from chainmagic.run import BatchResult, ChainResult

    batch = BatchResult(name="b", size=4, started=perf_counter() - 1.0)
    statuses = ["ok", "running", "queued", "queued"]
    batch.results = [ChainResult(input=i, status=s, total=0.5) for i, s in enumerate(statuses)]
    summary = mask(batch_text(batch).splitlines()[0])
    assert summary == "b · 4 inputs · 1/4 done · 1 ok · 1 running · 2 queued · ETA T"
    assert "queued" in batch_text(batch).splitlines()[3]


def test_a_long_batch_shows_its_first_and_last_rows() -> None:
    from chainmagic.run import BatchResult, ChainResult

    batch = BatchResult(size=100, total=2.0)
    batch.results = [ChainResult(input=i, output=i, status="ok", total=0.1) for i in range(100)]
    lines = batch_text(batch).splitlines()
    assert lines[0].endswith("· 50 inputs/s")
    assert [line.split()[0] for line in lines[1:11]] == [str(i) for i in range(10)]
    assert lines[11] == "… (85 more rows: batch.to_dataframe() has them all)"
    assert [line.split()[0] for line in lines[12:]] == ["95", "96", "97", "98", "99"]
    page = batch_html(batch)
    assert page.count("<tr ") == 1 + 15 + 1
    assert batch.to_dict()["size"] == 100


def test_a_pace_has_no_exponent() -> None:
    from chainmagic.display.text import format_rate

    assert [format_rate(x) for x in (2.371, 74.44, 2371.2, 123456.0)] == [
        "2.37",
        "74.4",
        "2,371",
        "123,456",
    ]
