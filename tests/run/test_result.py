"""ChainResult, BranchResult, StepRecord and to_plain: plain data that serializes."""

from __future__ import annotations

import json

from chainmagic.core import AIMessage, Document, HumanMessage
from chainmagic.errors import ChainRunError
from chainmagic.run.result import BranchResult, ChainResult, StepRecord, to_plain


def test_a_step_record_names_and_times_itself():
    step = StepRecord(("map_chain", "poem", "model"), start=0.25, end=1.0, first_chunk=0.5)
    assert step.label == "model"
    assert step.where == "map_chain › poem › model"
    assert step.latency == 0.75
    assert StepRecord((), 0.0).label == "chain"
    assert StepRecord(("a",), 0.1).latency is None


def test_a_step_record_as_a_dict():
    error = ChainRunError(ValueError("bad"), ["a"])
    step = StepRecord(("a",), 0.0, 0.5, status="error", error=error)
    assert step.to_dict() == {
        "path": ["a"],
        "start": 0.0,
        "end": 0.5,
        "latency": 0.5,
        "first_chunk": None,
        "status": "error",
        "usage": None,
        "error": "a failed: ValueError: bad",
        "retries": [],
        "finish_reason": None,
        "usage_estimated": False,
    }


def test_a_branch_needs_both_ends_for_its_times():
    branch = BranchResult("poem")
    assert (branch.status, branch.latency, branch.ttft) == ("pending", None, None)
    branch.start = 1.0
    assert branch.latency is None and branch.ttft is None
    branch.first_chunk, branch.end = 1.25, 2.0
    assert (branch.latency, branch.ttft) == (1.0, 0.25)


def test_a_branch_as_a_dict_has_a_plain_output():
    branch = BranchResult("poem", "ok", "roses", AIMessage("roses"), 0.0, 0.5, 0.25)
    assert branch.to_dict() == {
        "key": "poem",
        "status": "ok",
        "output": "roses",
        "latency": 0.5,
        "ttft": 0.25,
        "error": None,
        "cut_by_length": False,
    }


def test_usage_adds_up_every_step_that_has_some():
    result = ChainResult(
        steps=[
            StepRecord(("a",), 0.0, usage={"input_tokens": 3, "total_tokens": 5}),
            StepRecord(("b",), 0.0),
            StepRecord(("c",), 0.0, usage={"input_tokens": 1, "output_tokens": 4}),
        ]
    )
    assert result.usage == {"input_tokens": 4, "total_tokens": 5, "output_tokens": 4}
    assert ChainResult().usage == {}


def test_estimated_usage_and_answers_cut_by_max_tokens_are_facts_of_the_result():
    exact = StepRecord(("m", "a"), 0.0, usage={"total_tokens": 5}, finish_reason="stop")
    counted = StepRecord(("m", "b"), 0.0, usage={"total_tokens": 3}, usage_estimated=True)
    cut = StepRecord(("m", "c"), 0.0, usage={"total_tokens": 2}, finish_reason="length")
    assert not ChainResult(steps=[exact]).usage_estimated
    result = ChainResult(steps=[exact, counted, cut])
    assert result.usage_estimated
    assert result.cut_by_length == ["m › c"]
    data = json.loads(json.dumps(result.to_dict()))
    assert (data["usage_estimated"], data["cut_by_length"]) == (True, ["m › c"])


def test_a_result_as_a_dict_is_json():
    result = ChainResult(
        name="map_chain",
        input={"topic": "bears"},
        output={"joke": "ha", "poem": AIMessage("roses")},
        status="ok",
        branches={"joke": BranchResult("joke", "ok", "ha", "ha", 0.0, 0.1)},
        steps=[StepRecord(("map_chain", "joke"), 0.0, 0.1, status="ok")],
        total=0.2,
        ttft=0.05,
        dsl="{joke: model}",
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert data["output"] == {"joke": "ha", "poem": "roses"}
    assert data["branches"]["joke"]["latency"] == 0.1
    assert data["steps"][0]["path"] == ["map_chain", "joke"]
    assert (data["name"], data["status"], data["total"], data["ttft"]) == (
        "map_chain",
        "ok",
        0.2,
        0.05,
    )
    assert data["usage"] == {}
    assert data["dsl"] == "{joke: model}"
    assert result.elapsed == 0.2


def test_an_error_is_shown_as_its_message():
    error = ChainRunError(KeyError("topic"), ["map_chain", "poem"])
    result = ChainResult(status="error", error=error)
    assert result.to_dict()["error"] == "map_chain › poem failed: KeyError: 'topic'"


class Exploding:
    def to_dict(self):
        raise RuntimeError("no")

    def __repr__(self):
        return "<exploding>"


def test_to_plain_makes_json_friendly_copies():
    assert to_plain(None) is None
    assert to_plain(3) == 3
    assert to_plain((1, [2, {3: "x"}])) == [1, [2, {"3": "x"}]]
    assert to_plain(HumanMessage("hello")) == "hello"
    assert to_plain(AIMessage("hi", usage_metadata={"total_tokens": 1})) == "hi"
    assert to_plain(Document("text", {"source": "a"})) == {
        "page_content": "text",
        "metadata": {"source": "a"},
    }
    assert to_plain(Exploding()) == "<exploding>"
    assert to_plain({1, 2}) == repr({1, 2})
    json.dumps(to_plain({"docs": [Document("t")], "m": AIMessage("x"), "s": {1}}))


def test_to_plain_never_raises_and_cuts_cycles():
    class Hopeless:
        def to_dict(self):
            raise RuntimeError("no")

        def __repr__(self):
            raise RuntimeError("no")

    loop: list = [1]
    loop.append(loop)
    assert to_plain(Hopeless()) == "<Hopeless>"
    assert to_plain(loop) == [1, "<cycle>"]
    assert to_plain({"a": loop, "b": loop}) == {"a": [1, "<cycle>"], "b": [1, "<cycle>"]}


def test_to_dict_rounds_times_to_the_microsecond():
    result = ChainResult(name="r", status="ok", total=0.1 + 0.2, ttft=1 / 3)
    result.steps.append(StepRecord(("r",), start=1e-7, end=2 / 3, status="ok"))
    data = result.to_dict()
    assert data["total"] == 0.3 and data["ttft"] == 0.333333
    assert data["steps"][0]["end"] == 0.666667 and data["steps"][0]["start"] == 0.0
    json.dumps(data)
